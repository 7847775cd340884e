//! A small JSON → XML writer for the RPC APIs' `Format=XML` (the V1 default). It follows the
//! shape the Alibaba Cloud gateway produces: one root element, object members as child
//! elements, and an array as the same element repeated once per item.

use quick_xml::escape::escape;
use serde_json::Value;

/// The document for `value` under a root element named `root`.
pub fn to_xml(root: &str, value: &Value) -> String {
    let mut out = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    element(&mut out, root, value);
    out
}

fn element(out: &mut String, name: &str, value: &Value) {
    match value {
        Value::Array(items) => {
            for item in items {
                element(out, name, item);
            }
        }
        Value::Object(members) => {
            out.push_str(&format!("<{name}>"));
            for (key, member) in members {
                element(out, key, member);
            }
            out.push_str(&format!("</{name}>"));
        }
        Value::Null => out.push_str(&format!("<{name}/>")),
        Value::String(s) => out.push_str(&format!("<{name}>{}</{name}>", escape(s))),
        other => out.push_str(&format!("<{name}>{other}</{name}>")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn arrays_repeat_and_text_is_escaped() {
        let v = json!({
            "RequestId": "R",
            "TotalCount": 2,
            "Tasks": {"CDNTask": [{"TaskId": "1"}, {"TaskId": "2"}]},
            "Note": "a<b & \"c\""
        });
        assert_eq!(
            to_xml("DescribeRefreshTasksResponse", &v),
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?>"#,
                "<DescribeRefreshTasksResponse>",
                "<Note>a&lt;b &amp; &quot;c&quot;</Note>",
                "<RequestId>R</RequestId>",
                "<Tasks><CDNTask><TaskId>1</TaskId></CDNTask><CDNTask><TaskId>2</TaskId></CDNTask></Tasks>",
                "<TotalCount>2</TotalCount>",
                "</DescribeRefreshTasksResponse>"
            )
        );
    }
}
