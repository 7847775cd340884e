//! The `Authorization` headers of the HMAC-SHA256 schemes (AWS SigV4 and Huawei Cloud's
//! SDK-HMAC-SHA256, which follows it): `SCHEME name=value, name=value, name=value`.
//!
//! Both the clients' tests and the emulator read them, and an emulator reads them from
//! anyone: what does not have exactly this shape is no header at all.

/// The three values of `header` under `names`, in `names`' order: the scheme word exactly,
/// then each name once, in any order, `,` between them with optional spaces. `None` for
/// anything else, including an empty value, a value with a space, or another name.
pub fn params<'a>(header: &'a str, scheme: &str, names: [&str; 3]) -> Option<[&'a str; 3]> {
    let rest = header.trim().strip_prefix(scheme)?;
    if !rest.starts_with([' ', '\t']) {
        return None;
    }
    let mut values: [Option<&str>; 3] = [None; 3];
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=')?;
        let slot = &mut values[names.iter().position(|n| *n == name)?];
        if slot.is_some() || value.is_empty() || value.contains(char::is_whitespace) {
            return None;
        }
        *slot = Some(value);
    }
    Some([values[0]?, values[1]?, values[2]?])
}

/// `SignedHeaders`' value as a list; `None` when a name in it is empty.
pub fn signed_headers(value: &str) -> Option<Vec<&str>> {
    let list: Vec<&str> = value.split(';').collect();
    (!list.iter().any(|h| h.is_empty())).then_some(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 3] = ["Access", "SignedHeaders", "Signature"];

    #[test]
    fn three_named_values_in_any_order() {
        assert_eq!(
            params("S Signature=c, Access=a,SignedHeaders=b", "S", NAMES),
            Some(["a", "b", "c"])
        );
        assert_eq!(signed_headers("host;x-date"), Some(vec!["host", "x-date"]));
    }

    #[test]
    fn anything_else_is_no_header() {
        for bad in [
            "S Access=a, SignedHeaders=b",                        // one missing
            "S Access=a, Access=a, SignedHeaders=b, Signature=c", // twice
            "S Access=a, SignedHeaders=b, Signature=c, Other=d",  // another name
            "S Access=, SignedHeaders=b, Signature=c",            // empty
            "S Access=a b, SignedHeaders=b, Signature=c",         // a space inside
            "SAccess=a, SignedHeaders=b, Signature=c",            // no space after the scheme
            "T Access=a, SignedHeaders=b, Signature=c",           // another scheme
        ] {
            assert_eq!(params(bad, "S", NAMES), None, "{bad}");
        }
        assert_eq!(signed_headers("host;;x-date"), None);
    }
}
