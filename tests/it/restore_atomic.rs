//! All or nothing: a restore whose data does not check out (a bad row, a failed
//! verification, rows lost on the way) leaves the database exactly as it was. The
//! other faults of a restore (cut dump, SQL error, csi killed or interrupted) are in
//! tests/faults.rs.

use crate::restore_bed;

use restore_bed::{changed_bed, last_outcome, line_of, replace_once};

#[test]
fn a_bad_row_is_traced_to_its_dump_line() {
    let (bed, dump, before) = changed_bed();
    let text = String::from_utf8_lossy(&dump).into_owned();
    let copy_line = line_of(&dump, "COPY cosims.parent_jobs ");
    let bad_row = text.lines().nth(copy_line + 2).unwrap().to_owned(); // the third row
    let broken = bad_row.replacen('\t', " ", 1);
    let bad = replace_once(&dump, &format!("\n{bad_row}\n"), &format!("\n{broken}\n"));
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    let expected = format!("line {} of database-all.sql", copy_line + 3);
    assert!(
        run.stderr.contains(&expected),
        "{expected:?} not in\n{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
}

/// An operator whose messages are German (LANGUAGE=de with a UTF-8 locale): csi
/// still reads PostgreSQL's answers, because its PostgreSQL children speak C.
#[test]
fn a_non_english_locale_does_not_change_what_csi_understands() {
    let (mut bed, dump, before) = changed_bed();
    let probe = std::process::Command::new("psql")
        .args(["-X", "-h", "127.0.0.1", "-p", "1"])
        .env("LANG", "C.UTF-8")
        .env("LANGUAGE", "de")
        .env_remove("LC_ALL")
        .env_remove("LC_MESSAGES")
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&probe.stderr).contains("Fehler"),
        "the machine must translate PostgreSQL's messages for this test to mean anything: {}",
        String::from_utf8_lossy(&probe.stderr)
    );
    bed.env.set_env("LANG", "C.UTF-8");
    bed.env.set_env("LANGUAGE", "de");
    let text = String::from_utf8_lossy(&dump).into_owned();
    let copy_line = line_of(&dump, "COPY cosims.parent_jobs ");
    let bad_row = text.lines().nth(copy_line + 2).unwrap().to_owned();
    let broken = bad_row.replacen('\t', " ", 1);
    let bad = replace_once(&dump, &format!("\n{bad_row}\n"), &format!("\n{broken}\n"));
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    let expected = format!("line {} of database-all.sql", copy_line + 3);
    assert!(
        run.stderr.contains(&expected),
        "{expected:?} not in\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains("FEHLER"), "{}", run.stderr);
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
}

#[test]
fn a_failed_verification_is_exit_5_says_what_differs_and_changes_nothing() {
    let (bed, dump, before) = changed_bed();
    // Something in the dump moves a sequence after the dump set it: it no longer has
    // the dump's value.
    let text = String::from_utf8_lossy(&dump).into_owned();
    let start = text
        .find("SELECT pg_catalog.setval('cosims.parent_jobs_id_seq', ")
        .unwrap();
    let end = start + text[start..].find('\n').unwrap() + 1;
    let setval = &text[start..end];
    let bad = replace_once(
        &dump,
        setval,
        &format!("{setval}SELECT pg_catalog.nextval('cosims.parent_jobs_id_seq');\n"),
    );
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 5, "{}", run.all_output());
    assert!(
        run.stderr.contains("parent_jobs_id_seq\" is at ")
            && run.stderr.contains("after loading, the dump sets "),
        "{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
    assert_eq!(last_outcome(&bed)["outcome"], "verification_failed");
}

/// Production's own state: system_parameters' one row was inserted with an explicit
/// id, so its sequence is uncalled while the column reaches 1, in the dump as in the
/// database. Restored as it is, with a warning about the source; never refused.
#[test]
fn a_sequence_behind_its_column_in_the_dump_itself_is_a_warning() {
    let (bed, dump, _) = changed_bed();
    let text = String::from_utf8_lossy(&dump).into_owned();
    assert!(
        text.contains("SELECT pg_catalog.setval('cosims.system_parameters_id_seq', 1, false);"),
        "the sandbox's dump has production's uncalled sequence"
    );
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &dump);
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(
        run.stderr.contains(
            "warning: in the dump itself, sequence cosims.system_parameters_id_seq is at 1 (not yet used) but cosims.system_parameters.id reaches 1"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(
        bed.psql("select last_value || ' ' || is_called from cosims.system_parameters_id_seq"),
        "1 false"
    );
}

#[test]
fn rows_lost_on_the_way_fail_the_verification() {
    let (bed, dump, before) = changed_bed();
    // A trigger that swallows rows, planted before the data: the count no longer matches.
    let bad = replace_once(
        &dump,
        "COPY cosims.gfsc_jobs ",
        "CREATE FUNCTION cosims.swallow() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n  IF NEW.id > 10 THEN RETURN NULL; END IF;\n  RETURN NEW;\nEND\n$$;\nCREATE TRIGGER swallow BEFORE INSERT ON cosims.gfsc_jobs FOR EACH ROW EXECUTE FUNCTION cosims.swallow();\n\nCOPY cosims.gfsc_jobs ",
    );
    bed.archive_of("pgdump_2026-11-21T04:00:00", "2026-11-21T04:00:00", &bad);
    let run = bed.restore("latest", &[]);
    assert_eq!(run.code, 5, "{}", run.all_output());
    assert!(
        run.stderr
            .contains("table cosims.gfsc_jobs has 10 rows after loading, the dump has 30"),
        "{}",
        run.stderr
    );
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);
}
