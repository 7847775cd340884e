//! Reading the signing vectors kept in `tests/fixtures/signing/<provider>/`, shared by the
//! `signing_*` tests.

#![allow(dead_code)] // each test file uses what its vectors need

use serde_json::Value;

/// `tests/fixtures/signing/{provider}/{name}`, parsed.
pub fn fixture(provider: &str, name: &str) -> Value {
    let path = format!(
        "{}/tests/fixtures/signing/{provider}/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A case's string field; a missing one names the case.
pub fn s<'a>(case: &'a Value, field: &str) -> &'a str {
    case[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} missing in {case}"))
}

/// `[["name", "value"], …]` as pairs.
pub fn pairs(v: &Value) -> Vec<(String, String)> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list of pairs: {v}"))
        .iter()
        .map(|p| {
            (
                p[0].as_str().unwrap().to_string(),
                p[1].as_str().unwrap().to_string(),
            )
        })
        .collect()
}
