//! What a user meets first (issue 14, items 8, 9 and 11): each subcommand's help lists the
//! options it uses and reads well at 80 columns, `plan` says what it may fetch, and the
//! GitHub job summary lists the paths git mode left out, names the range of a run with
//! several targets and says so when there is no URL. Each case is the binary.

mod common;

use std::path::Path;

use common::*;

/// What a run of the binary showed, and the job summary it wrote.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    summary: String,
}

impl Ran {
    fn all(&self) -> String {
        format!(
            "{}{}\n== summary\n{}",
            self.stdout, self.stderr, self.summary
        )
    }
}

/// The binary with `args` and `env` (and the default credentials), no endpoint, as a
/// GitHub step when `github`.
async fn exec(args: &[&str], env: &[(&str, &str)], github: bool) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.md");
    let (out_file, temp) = (
        dir.path().join("output").to_string_lossy().into_owned(),
        dir.path().to_string_lossy().into_owned(),
    );
    let summary_file = summary.to_string_lossy().into_owned();
    let mut all: Vec<(&str, &str)> = Vec::new();
    if github {
        all.extend([
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_OUTPUT", out_file.as_str()),
            ("GITHUB_STEP_SUMMARY", summary_file.as_str()),
            ("RUNNER_TEMP", temp.as_str()),
        ]);
    }
    all.extend_from_slice(env);
    let out = binary(args, &all, false).output().await.unwrap();
    Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        summary: std::fs::read_to_string(&summary).unwrap_or_default(),
    }
}

fn long_flags(help: &str) -> Vec<String> {
    help.split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .map(|w| w.trim_end_matches(['.', ')']).to_string())
        .collect()
}

/// Asserts that the help of `args` lists every flag of `listed` and none of `absent`.
async fn assert_help(args: &[&str], listed: &[&str], absent: &[&str]) {
    let help = exec(args, &[], false).await;
    assert_eq!(help.code, Some(0), "{}", help.all());
    let flags = long_flags(&help.stdout);
    for flag in listed {
        assert!(
            flags.contains(&flag.to_string()),
            "{args:?} lacks {flag}\n{}",
            help.stdout
        );
    }
    for flag in absent {
        assert!(
            !flags.contains(&flag.to_string()),
            "{args:?} lists {flag}\n{}",
            help.stdout
        );
    }
}

/// `quota` and `status` list (and take) only what reaches the provider's account; `plan`
/// lists what changes a plan, not what matters only when sending; a run lists everything.
#[tokio::test]
async fn each_subcommand_help_lists_only_the_options_it_uses() {
    let connection = [
        "--provider",
        "--endpoint",
        "--config",
        "--target",
        "--timeout",
    ];
    let run_only = [
        "--wait",
        "--urls-file",
        "--mapping",
        "--report",
        "--fail-on",
        "--qps",
    ];
    for sub in ["quota", "status"] {
        assert_help(&[sub, "--help"], &connection, &run_only).await;
    }
    assert_help(
        &["plan", "--help"],
        &[
            "--base",
            "--mapping",
            "--urls-file",
            "--report",
            "--format",
            "--batch-size",
        ],
        &[
            "--dotenv",
            "--resume",
            "--poll-interval",
            "--on-dir-refresh-denied",
            "--concurrency",
        ],
    )
    .await;
    assert_help(
        &["run", "--help"],
        &["--wait", "--dotenv", "--resume", "--fail-on", "--base"],
        &[],
    )
    .await;
}

/// An option `quota` or `status` would ignore is refused, named, before any call; one from
/// the environment (an action's inputs are all set) is not read at all.
#[tokio::test]
async fn quota_and_status_refuse_the_options_they_would_ignore() {
    for args in [
        vec!["quota", "--wait", "false"],
        vec!["status", "1", "--urls", "https://www.example.com/a"],
        vec!["quota", "--report", "r.json"],
    ] {
        let mut all = args.clone();
        all.extend(["--endpoint", "http://127.0.0.1:1"]);
        let out = exec(&all, &[], false).await;
        assert_eq!(out.code, Some(2), "{args:?}\n{}", out.all());
        let flag = args[args.len() - 2];
        assert!(
            out.stderr.contains(&format!(
                "{flag}: an option of a run, which `{}` does not take",
                args[0]
            )) && out
                .stderr
                .contains(&format!("fix: drop it; `cdn-refresh {} --help`", args[0])),
            "{}",
            out.all()
        );
    }
    // `INPUT_TASK` and `INPUT_WAIT` are a run's inputs: `quota` does not read them (it
    // fails on the closed port, not on their values).
    let out = exec(
        &["quota", "--endpoint", "http://127.0.0.1:1"],
        &[("INPUT_TASK", "bogus"), ("INPUT_WAIT", "maybe")],
        false,
    )
    .await;
    assert_ne!(out.code, Some(2), "{}", out.all());
    assert!(out.stderr.contains("cannot connect"), "{}", out.all());
    assert!(!out.stderr.contains("INPUT_"), "{}", out.all());
}

/// `plan` takes a run's command line as it is, so a run previews by changing one word.
#[tokio::test]
async fn plan_still_takes_a_runs_whole_command_line() {
    let out = exec(
        &[
            "plan",
            "--urls",
            "https://www.example.com/a",
            "--wait",
            "false",
            "--timeout",
            "5s",
            "--fail-on",
            "never",
            "--poll-interval",
            "1s",
        ],
        &[],
        false,
    )
    .await;
    assert_eq!(out.code, Some(0), "{}", out.all());
    assert!(
        out.stdout.contains("https://www.example.com/a"),
        "{}",
        out.all()
    );
}

/// At 80 columns the lists that end `--help` (credential variables, exit codes) wrap under
/// their own column, not at the margin; no line is wider than the terminal.
#[tokio::test]
async fn help_reads_well_at_80_and_120_columns() {
    for columns in ["80", "120"] {
        let help = exec(&["--help"], &[("COLUMNS", columns)], false).await;
        assert_eq!(help.code, Some(0));
        let width: usize = columns.parse().unwrap();
        for line in help.stdout.lines() {
            assert!(line.chars().count() <= width, "{columns}: {line}");
        }
        let lines: Vec<&str> = help.stdout.lines().collect();
        let after = |start: &str| {
            let i = lines.iter().position(|l| l.starts_with(start)).unwrap();
            lines[i + 1]
        };
        // A continuation line is indented under the text it continues.
        assert!(
            after("  aliyun ").starts_with("          ALIBABA_CLOUD_SECURITY_TOKEN"),
            "{}",
            help.stdout
        );
        assert!(after("  1 ").starts_with("            "), "{}", help.stdout);
    }
}

/// `plan` calls no CDN, but in a shallow clone git mode may fetch the base: its help says
/// so instead of "no network call".
#[tokio::test]
async fn plan_help_says_it_may_fetch_from_the_git_remote() {
    let short = exec(&["--help"], &[], false).await;
    let long = exec(&["plan", "--help"], &[], false).await;
    for help in [&short.stdout, &long.stdout] {
        assert!(!help.contains("no network call"), "{help}");
        assert!(help.contains("no call to the CDN"), "{help}");
    }
    assert!(
        long.stdout.contains("fetched from the git"),
        "{}",
        long.stdout
    );
}

/// A subcommand's options are built only when it is named (clap's `defer`); building them
/// late must not replace its help line with the doc comment of the struct that holds them.
/// Each subcommand's `-h` opens with the line `--help` lists it under, and `help NAME`
/// shows what `NAME --help` does.
#[tokio::test]
async fn each_subcommand_opens_with_the_line_the_top_level_lists() {
    // Wide enough that no line wraps.
    let wide = &[("COLUMNS", "300")];
    let top = exec(&["--help"], wide, false).await;
    let listed: Vec<(String, String)> = top
        .stdout
        .lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| {
            let (name, about) = l.trim().split_once(' ')?;
            Some((name.to_string(), about.trim().to_string()))
        })
        .filter(|(name, _)| name != "help")
        .collect();
    assert!(listed.len() >= 6, "{}", top.stdout);
    for (name, about) in &listed {
        let short = exec(&[name, "-h"], wide, false).await;
        assert_eq!(short.code, Some(0), "{}", short.all());
        assert_eq!(short.stdout.lines().next(), Some(about.as_str()), "{name}");
        let long = exec(&[name, "--help"], &[], false).await;
        let via_help = exec(&["help", name], &[], false).await;
        assert_eq!(via_help.stdout, long.stdout, "{name}");
    }
}

/// A repository whose last commit changes `public/a.html`, an excluded map and `count`
/// unmapped files, some with hostile names; a config with two targets when `targets`.
fn repo(count: usize) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    git(d, &["init", "-q", "-b", "main"]);
    write(d, "public/a.html", "a");
    commit(d);
    write(d, "public/a.html", "a2");
    write(d, "public/a.js.map", "map");
    for i in 0..count {
        write(d, &format!("docs/page-{i:02}.md"), "x");
    }
    write(d, "docs/<img src=x onerror=alert(1)>.md", "x");
    write(d, "docs/![t](https:/evil.example/p.png).md", "x");
    write(d, "docs/`code` *em* [l](javascript:x)\r::error::x.md", "x");
    commit(d);
    dir
}

fn write(dir: &Path, path: &str, text: &str) {
    let full = dir.join(path);
    std::fs::create_dir_all(full.parent().unwrap()).unwrap();
    std::fs::write(full, text).unwrap();
}

fn commit(dir: &Path) {
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "--allow-empty", "-m", "c"]);
}

const RULES: &str = "!public/**/*.map\npublic/** => https://www.example.com/{path}";

/// Two targets: Alibaba Cloud for www.example.com, Qiniu for the rest.
fn targets_config(dir: &Path) -> String {
    let path = dir.join("targets.yml");
    std::fs::write(
        &path,
        "targets:\n  - name: main\n    provider: aliyun\n    sites: [www.example.com]\n  - name: assets\n    provider: qiniu\n    sites: ['static.example.com']\n",
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

/// A git-mode dry run as a GitHub step: `base` of the repository, two targets when `config`.
async fn git_step(repo: &Path, base: &str, config: Option<&str>) -> Ran {
    let repo_arg = repo.to_string_lossy().into_owned();
    let mut args = vec![
        "run",
        "--dry-run",
        "--repo",
        &repo_arg,
        "--base",
        base,
        "--mapping",
        RULES,
    ];
    if let Some(config) = config {
        args.extend(["--config", config]);
    }
    exec(&args, &[], true).await
}

/// The job summary lists the unmapped and excluded paths (the first 20, then how many more
/// and where the rest are), each shown as it is and unable to add Markdown or HTML.
#[tokio::test]
async fn the_job_summary_lists_the_paths_git_mode_left_out() {
    let repo = repo(25);
    let out = git_step(repo.path(), "HEAD~1", None).await;
    assert_eq!(out.code, Some(0), "{}", out.all());
    let s = &out.summary;
    assert!(
        s.contains("<details><summary>28 unmapped (no rule matches, not refreshed)</summary>"),
        "{s}"
    );
    assert!(
        s.contains("<details><summary>1 excluded (by a `!GLOB` rule)</summary>"),
        "{s}"
    );
    assert!(s.contains("- public\\/a\\.js\\.map\n"), "{s}");
    assert_eq!(s.matches("\n- docs").count(), 20, "{s}");
    assert!(s.contains("… and 8 more: the report `"), "{s}");
    assert!(
        s.contains("lists all of them under `git.unmapped_paths`."),
        "{s}"
    );
    // Hostile names: shown, every mark escaped, the CR visible.
    assert!(
        s.contains("- docs\\/\\<img src\\=x onerror\\=alert\\(1\\)\\>\\.md"),
        "{s}"
    );
    assert!(
        s.contains("docs\\/\\!\\[t\\]\\(https\\:\\/evil\\.example\\/p\\.png\\)\\.md"),
        "{s}"
    );
    assert!(
        s.contains("\\`code\\` \\*em\\* \\[l\\]\\(javascript\\:x\\)␍\\:\\:error"),
        "{s}"
    );
    assert!(
        !s.replace("\\<", "").contains("<img") && !s.contains("![t]") && !s.contains('\r'),
        "{s}"
    );
}

/// A run with two targets says which range it diffed, as a run with one does; a diff
/// that maps to no URL says so in a sentence, not with a table of only its header.
#[tokio::test]
async fn the_summary_of_targets_names_the_range_and_an_empty_diff_says_so() {
    let repo = repo(1);
    let config = targets_config(repo.path());
    let two = git_step(repo.path(), "HEAD~1", Some(&config)).await;
    assert_eq!(two.code, Some(0), "{}", two.all());
    assert!(
        two.summary.contains("## CDN refresh, 2 targets"),
        "{}",
        two.all()
    );
    assert!(two.summary.contains("Git: `"), "{}", two.summary);
    assert!(
        two.summary
            .contains("(base from explicit): 6 changed, 4 unmapped, 1 excluded."),
        "{}",
        two.summary
    );
    // The Qiniu target's sites have none of the URLs.
    assert!(
        two.summary
            .contains("No URL for this target: none of the run's URLs is on its sites."),
        "{}",
        two.summary
    );
    for config in [None, Some(config.as_str())] {
        let empty = git_step(repo.path(), "HEAD", config).await;
        assert_eq!(empty.code, Some(0), "{}", empty.all());
        assert!(
            !empty.summary.contains("| operation |"),
            "{}",
            empty.summary
        );
        assert!(
            empty.summary.contains("No URL to send: the diff `")
                && empty
                    .summary
                    .contains("` changed nothing that maps to a URL."),
            "{}",
            empty.summary
        );
    }
}
