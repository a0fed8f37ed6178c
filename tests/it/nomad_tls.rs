//! Nomad over TLS as the nomad CLI reaches it: a real TLS server (stunnel, OpenSSL) in
//! front of the Nomad double, certificates made with the `openssl` command line. The
//! CA from NOMAD_CACERT or NOMAD_CAPATH, client certificates (NOMAD_CLIENT_CERT/KEY)
//! when the server asks for them, NOMAD_TLS_SERVER_NAME, NOMAD_SKIP_VERIFY; and a clear
//! line naming the address and what to set when they are missing.

use crate::support;

use support::csi::TestEnv;
use support::nomad::NomadDouble;
use support::tls::{Pki, Stunnel};

const ENV: &str = "tls";

fn config(address: &str) -> String {
    format!(
        r#"
service "job-creation" {{
  job_file = "job_creation.nomad"
}}
environment "{ENV}" {{
  terraform {{
    dir                    = "/nonexistent"
    configuration_var_file = "c.tfvars"
    secrets_var_file       = "s.tfvars"
  }}
  nomad {{
    address = "{address}"
  }}
  database {{
    host = "127.0.0.1"
    port = 9
    name = "postgres"
  }}
  borg {{
    repository = "/nonexistent"
  }}
}}
"#
    )
}

struct Bed {
    _nomad: NomadDouble,
    pki: Pki,
    tls: Stunnel,
    env: TestEnv,
}

/// The double behind stunnel, whose certificate names `san`; `mutual`: stunnel asks
/// for a client certificate signed by the CA.
fn bed(san: &str, mutual: bool) -> Bed {
    let nomad = NomadDouble::start(&[]);
    let port: u16 = nomad.address.rsplit(':').next().unwrap().parse().unwrap();
    let pki = Pki::new();
    let server = pki.issue("server", san, "serverAuth");
    let ca = pki.ca();
    let tls = Stunnel::start(port, &server, mutual.then_some(ca.as_path()));
    let env = TestEnv::new(&config(&tls.address()));
    Bed {
        _nomad: nomad,
        pki,
        tls,
        env,
    }
}

/// `csi env check`'s Nomad line with these variables.
fn nomad_line(bed: &Bed, vars: &[(&str, &str)]) -> String {
    let run = bed.env.csi_with(&["env", "check", ENV], vars);
    run.stdout
        .lines()
        .find(|l| l.contains("nomad reachable"))
        .unwrap_or_else(|| panic!("no nomad line: {}", run.all_output()))
        .to_owned()
}

#[test]
fn the_ca_from_nomad_cacert_or_nomad_capath_is_trusted_and_its_absence_said_in_one_line() {
    let bed = bed("DNS:server.global.nomad,IP:127.0.0.1", false);
    let ca = bed.pki.ca();
    let line = nomad_line(&bed, &[("NOMAD_CACERT", ca.to_str().unwrap())]);
    assert!(line.starts_with("OK"), "{line}");
    let folder = bed.pki.dir().join("cas");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::copy(&ca, folder.join("nomad-ca.pem")).unwrap();
    let line = nomad_line(&bed, &[("NOMAD_CAPATH", folder.to_str().unwrap())]);
    assert!(line.starts_with("OK"), "{line}");

    let line = nomad_line(&bed, &[]);
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(line.contains(&bed.tls.address()), "{line}");
    assert!(
        line.contains("NOMAD_CACERT") && line.contains("NOMAD_CAPATH"),
        "{line}"
    );
    // The same line when a command needs Nomad: the error and nothing else.
    let run = bed.env.csi(&["env", "doctor", ENV]);
    let errors: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", run.all_output());
    assert!(
        errors[0].contains(&bed.tls.address()) && errors[0].contains("NOMAD_CACERT"),
        "{}",
        run.all_output()
    );
}

#[test]
fn a_server_that_asks_for_a_client_certificate_gets_nomad_client_cert_and_key() {
    let bed = bed("DNS:server.global.nomad,IP:127.0.0.1", true);
    let ca = bed.pki.ca();
    let client = bed
        .pki
        .issue("client", "DNS:cli.global.nomad", "clientAuth");
    let ca_var = ("NOMAD_CACERT", ca.to_str().unwrap());
    let line = nomad_line(&bed, &[ca_var]);
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(
        line.contains("NOMAD_CLIENT_CERT") && line.contains(&bed.tls.address()),
        "{line}"
    );
    let line = nomad_line(
        &bed,
        &[
            ca_var,
            ("NOMAD_CLIENT_CERT", client.cert.to_str().unwrap()),
            ("NOMAD_CLIENT_KEY", client.key.to_str().unwrap()),
        ],
    );
    assert!(line.starts_with("OK"), "{line}\n{}", bed.tls.log());
}

#[test]
fn nomad_tls_server_name_checks_the_certificate_against_that_name() {
    // Nomad's own convention: servers' certificates name server.<region>.nomad only.
    let bed = bed("DNS:server.global.nomad", false);
    let ca = bed.pki.ca();
    let ca_var = ("NOMAD_CACERT", ca.to_str().unwrap());
    let line = nomad_line(&bed, &[ca_var]);
    assert!(line.starts_with("FAIL"), "{line}");
    assert!(line.contains("NOMAD_TLS_SERVER_NAME"), "{line}");
    let line = nomad_line(
        &bed,
        &[ca_var, ("NOMAD_TLS_SERVER_NAME", "server.global.nomad")],
    );
    assert!(line.starts_with("OK"), "{line}");
    let line = nomad_line(
        &bed,
        &[ca_var, ("NOMAD_TLS_SERVER_NAME", "client.global.nomad")],
    );
    assert!(line.starts_with("FAIL"), "{line}");
}

#[test]
fn nomad_skip_verify_accepts_a_certificate_of_an_unknown_ca() {
    let bed = bed("DNS:server.global.nomad", false);
    let line = nomad_line(&bed, &[("NOMAD_SKIP_VERIFY", "true")]);
    assert!(line.starts_with("OK"), "{line}");
    let line = nomad_line(&bed, &[("NOMAD_SKIP_VERIFY", "false")]);
    assert!(line.starts_with("FAIL"), "{line}");
}
