//! The secrets var file: csi never prints it, and registers its values with the
//! redactor so that nothing terraform says can carry them to the operator's screen,
//! a log or the journal.

use std::path::Path;

use hcl::Value;

use crate::secret;

/// Registers every string in the var file as a secret; returns how many. A missing or
/// unparsable file registers nothing (preflight reports it).
pub fn register_secret_values(path: &Path) -> usize {
    let Ok(text) = fs_err::read_to_string(path) else {
        return 0;
    };
    let Ok(value) = hcl::from_str::<Value>(&text) else {
        return 0;
    };
    register_strings(&value)
}

fn register_strings(value: &Value) -> usize {
    match value {
        Value::String(s) => {
            secret::register(s);
            1
        }
        Value::Array(items) => items.iter().map(register_strings).sum(),
        Value::Object(map) => map.values().map(register_strings).sum(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_string_value_is_scrubbed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x_env_secrets.tfvars");
        fs_err::write(
            &path,
            "bucket_secret_key = \"varfile-secret-one\"\nnested = { token = \"varfile-secret-two\" }\n",
        )
        .unwrap();
        assert_eq!(super::register_secret_values(&path), 2);
        assert_eq!(
            crate::secret::redact("a varfile-secret-one b varfile-secret-two"),
            "a ******** b ********"
        );
    }
}
