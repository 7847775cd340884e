//! Times one diff of a repository, for `benches/changes.py`.
//!
//! ```sh
//! cargo run --release --example changes_bench -- REPO BASE HEAD [ours|libgit2|libgit2-similar]
//! ```
//!
//! `ours` is `cdn_refresh::plan::changes::diff`. `libgit2` is libgit2's own
//! `git_diff_tree_to_tree` (no renames) and `libgit2-similar` adds its `find_similar`
//! rename detection: the alternatives `changes` was measured against (with the same
//! libgit2 options: strict hash verification off).
//!
//! Prints one JSON line: the number of changes by kind and the time of the diff alone
//! (the harness measures the whole process, start-up included, beside `git diff`).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use cdn_refresh::plan::changes;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (repo, base, head) = match &args[..] {
        [r, b, h] | [r, b, h, _] => (r, b, h),
        _ => {
            eprintln!("usage: changes_bench REPO BASE HEAD [ours|libgit2|libgit2-similar]");
            return ExitCode::from(2);
        }
    };
    let mode = args.get(3).map_or("ours", String::as_str);
    let start = Instant::now();
    let kinds = match mode {
        "ours" => ours(repo, base, head),
        "libgit2" => libgit2(repo, base, head, false),
        "libgit2-similar" => libgit2(repo, base, head, true),
        other => Err(format!(
            "unknown mode `{other}`: use ours, libgit2 or libgit2-similar"
        )),
    };
    let elapsed = start.elapsed();
    match kinds {
        Ok(kinds) => {
            let total: usize = kinds.values().sum();
            println!(
                "{}",
                serde_json::json!({
                    "changes": total,
                    "kinds": kinds,
                    "diff_ms": elapsed.as_secs_f64() * 1000.0,
                })
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    }
}

fn ours(repo: &str, base: &str, head: &str) -> Result<BTreeMap<String, usize>, String> {
    let d = changes::diff(Path::new(repo), base, head).map_err(|e| e.to_string())?;
    let mut kinds = BTreeMap::new();
    for c in &d.changes {
        let k = serde_json::to_value(c.kind).unwrap();
        *kinds.entry(k.as_str().unwrap().to_owned()).or_default() += 1;
    }
    Ok(kinds)
}

fn libgit2(
    repo: &str,
    base: &str,
    head: &str,
    similar: bool,
) -> Result<BTreeMap<String, usize>, String> {
    // As `changes` does: no re-hashing of every object read (git does not either).
    git2::opts::strict_hash_verification(false);
    let run = || -> Result<BTreeMap<String, usize>, git2::Error> {
        let repo = git2::Repository::open(repo)?;
        let tree = |rev: &str| repo.revparse_single(rev)?.peel_to_commit()?.tree();
        let (base, head) = (tree(base)?, tree(head)?);
        let mut opts = git2::DiffOptions::new();
        opts.include_typechange(true).skip_binary_check(true);
        let mut diff = repo.diff_tree_to_tree(Some(&base), Some(&head), Some(&mut opts))?;
        if similar {
            diff.find_similar(Some(git2::DiffFindOptions::new().renames(true)))?;
        }
        let mut kinds = BTreeMap::new();
        for d in diff.deltas() {
            *kinds
                .entry(format!("{:?}", d.status()).to_lowercase())
                .or_default() += 1;
        }
        Ok(kinds)
    };
    run().map_err(|e| e.to_string())
}
