//! What a user meets first (issue 14, items 8 and 11): the GitHub job summary lists the
//! paths git mode left out, names the range of a run with several targets and says so when
//! there is no URL. Each case is the binary.

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
