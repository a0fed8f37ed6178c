//! The dump's globals (roles): skipped by default, so existing roles never break a
//! restore; applied with --include-globals, tolerating only roles that exist already.

use crate::restore_bed;

use restore_bed::Bed;

#[test]
fn roles_already_present_do_not_break_a_restore_with_or_without_globals() {
    let bed = Bed::new();
    let archived = bed.snapshot();
    bed.nightly("2026-11-20T04:00:00");
    bed.psql("ALTER ROLE authenticator CREATEDB; DELETE FROM cosims.gfsc_jobs");

    let run = bed.restore("latest", &["--no-safety-backup"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stderr.contains("skipped: roles"), "{}", run.stderr);
    assert_eq!(bed.snapshot(), archived);
    // Roles untouched by default.
    assert_eq!(
        bed.psql("select rolcreatedb from pg_roles where rolname = 'authenticator'"),
        "t"
    );

    bed.psql("DELETE FROM cosims.gfsc_jobs");
    let run = bed.restore("latest", &["--no-safety-backup", "--include-globals"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert!(run.stderr.contains("applied: roles"), "{}", run.stderr);
    assert_eq!(bed.snapshot(), archived);
    // With the globals, the role's attributes are the dump's again.
    assert_eq!(
        bed.psql("select rolcreatedb from pg_roles where rolname = 'authenticator'"),
        "f"
    );
}

#[test]
fn a_missing_role_fails_with_a_hint_and_include_globals_creates_it() {
    let bed = Bed::new();
    bed.psql("CREATE ROLE reader; GRANT USAGE ON SCHEMA cosims TO reader; GRANT SELECT ON cosims.parent_jobs TO reader;");
    let archived = bed.snapshot();
    bed.nightly("2026-11-20T04:00:00");
    bed.psql("REVOKE ALL ON cosims.parent_jobs FROM reader; REVOKE ALL ON SCHEMA cosims FROM reader; DROP ROLE reader; DELETE FROM cosims.gfsc_jobs");
    let before = bed.snapshot();

    let run = bed.restore("latest", &["--no-safety-backup"]);
    assert_eq!(run.code, 1, "{}", run.all_output());
    assert!(
        run.stderr.contains("role \"reader\" does not exist"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--include-globals"), "{}", run.stderr);
    bed.wait_for_no_restore_session();
    assert_eq!(bed.snapshot(), before);

    let run = bed.restore("latest", &["--no-safety-backup", "--include-globals"]);
    assert_eq!(run.code, 0, "{}", run.all_output());
    assert_eq!(bed.snapshot(), archived);
    assert_eq!(
        bed.psql("select has_table_privilege('reader', 'cosims.parent_jobs', 'SELECT')"),
        "t"
    );
}
