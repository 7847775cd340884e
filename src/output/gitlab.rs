//! GitLab CI: the dotenv report that carries the outputs to later jobs, and collapsible log
//! sections, as pure strings (`ci` writes them).
//!
//! A dotenv report takes one `KEY=value` per line, keys of letters, digits and `_`, values
//! without spaces or line breaks, 5 KB in all; the full lists stay in the JSON report.

/// GitLab's default limit on a dotenv report.
pub const DOTENV_LIMIT: usize = 5 * 1024;

/// The dotenv key of an output: `task-ids` → `CDN_REFRESH_TASK_IDS`.
pub fn key(output: &str) -> String {
    format!(
        "CDN_REFRESH_{}",
        output.to_ascii_uppercase().replace('-', "_")
    )
}

/// The dotenv file for `outputs`, and warnings for what it had to leave out. Task-id lists
/// that would take the file over the limit are cut at a whole id and flagged with
/// `CDN_REFRESH_TASK_IDS_TRUNCATED=true`; a value with spaces or line breaks (a report path
/// with a space) cannot be carried and is left out.
pub fn dotenv(outputs: &[(&str, String)]) -> (String, Vec<String>) {
    let mut warnings = Vec::new();
    let mut lines: Vec<(String, String)> = Vec::new();
    for (name, value) in outputs {
        if value.chars().any(char::is_whitespace) {
            warnings.push(format!(
                "output {name} is left out of the dotenv report: its value has spaces or line breaks ({value:?})"
            ));
            continue;
        }
        lines.push((key(name), value.clone()));
    }
    let size = |lines: &[(String, String)]| {
        lines
            .iter()
            .map(|(k, v)| k.len() + v.len() + 2)
            .sum::<usize>()
    };
    let mut truncated = false;
    // Cut the longest list first, one id at a time, until the file fits.
    let flag = (key("task-ids-truncated"), "true".to_string());
    while size(&lines) + if truncated { flag.0.len() + 6 } else { 0 } > DOTENV_LIMIT {
        let longest = lines
            .iter_mut()
            .filter(|(k, _)| k.ends_with("TASK_IDS"))
            .max_by_key(|(_, v)| v.len());
        match longest {
            Some((_, v)) if !v.is_empty() => {
                let cut = v.rfind(',').unwrap_or(0);
                v.truncate(cut);
                truncated = true;
            }
            _ => break,
        }
    }
    if truncated {
        lines.push(flag);
        warnings.push(
            "task id lists were cut to fit the 5 KB dotenv report; the JSON report has them all"
                .to_string(),
        );
    }
    let mut out = String::new();
    for (k, v) in lines {
        out.push_str(&format!("{k}={v}\n"));
    }
    (out, warnings)
}

/// Starts a collapsible section. `name` uses `[a-z0-9_.-]`; `unix_time` is when it began.
pub fn section_start(name: &str, header: &str, unix_time: i64, collapsed: bool) -> String {
    let opts = if collapsed { "[collapsed=true]" } else { "" };
    format!(
        "\x1b[0Ksection_start:{unix_time}:{name}{opts}\r\x1b[0K{}\n",
        header.replace(['\r', '\n'], " ")
    )
}

pub fn section_end(name: &str, unix_time: i64) -> String {
    format!("\x1b[0Ksection_end:{unix_time}:{name}\r\x1b[0K\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_the_contract() {
        assert_eq!(key("refresh-task-ids"), "CDN_REFRESH_REFRESH_TASK_IDS");
        assert_eq!(key("status"), "CDN_REFRESH_STATUS");
    }

    #[test]
    fn dotenv_carries_single_line_values() {
        let (text, warnings) = dotenv(&[
            ("status", "success".into()),
            ("task-ids", "1,2".into()),
            ("report", "/tmp/my report.json".into()),
        ]);
        assert_eq!(
            text,
            "CDN_REFRESH_STATUS=success\nCDN_REFRESH_TASK_IDS=1,2\n"
        );
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("report"), "{warnings:?}");
    }

    #[test]
    fn long_task_id_lists_are_cut_to_fit_and_flagged() {
        let ids: Vec<String> = (0..400).map(|i| format!("task-{i:010}")).collect();
        let ids = ids.join(",");
        let (text, warnings) = dotenv(&[
            ("status", "success".into()),
            ("task-ids", ids.clone()),
            ("refresh-task-ids", ids),
            ("prefetch-task-ids", String::new()),
        ]);
        assert!(text.len() <= DOTENV_LIMIT, "{}", text.len());
        assert!(
            text.ends_with("CDN_REFRESH_TASK_IDS_TRUNCATED=true\n"),
            "{text}"
        );
        assert!(text.contains("CDN_REFRESH_STATUS=success\n"));
        // Cut at whole ids.
        for line in text.lines() {
            if let Some(v) = line.strip_prefix("CDN_REFRESH_TASK_IDS=") {
                assert!(v.split(',').all(|id| id.len() == 15), "{v}");
            }
        }
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn sections_use_gitlabs_markers() {
        assert_eq!(
            section_start("refresh", "Refresh\n8 URLs", 5, true),
            "\x1b[0Ksection_start:5:refresh[collapsed=true]\r\x1b[0KRefresh 8 URLs\n"
        );
        assert_eq!(
            section_end("refresh", 6),
            "\x1b[0Ksection_end:6:refresh\r\x1b[0K\n"
        );
    }
}
