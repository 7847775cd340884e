//! The CI platform the run is in, and what it gets: GitHub Actions (step outputs, job
//! summary, annotations, groups), GitLab CI (dotenv report, log sections), or neither
//! (a post-deploy hook: the text summary and the JSON report only).

use std::io::Write;
use std::path::{Path, PathBuf};

use super::console::Printable;
use super::{github, gitlab, multi_outputs, outputs};
use crate::input::cli::Env;
use crate::report::{MultiReport, Report};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Platform {
    /// `GITHUB_ACTIONS=true`.
    GitHub {
        output: Option<PathBuf>,
        step_summary: Option<PathBuf>,
        runner_temp: Option<PathBuf>,
    },
    /// `GITLAB_CI=true`, or a dotenv path given (`--dotenv`) outside GitLab.
    GitLab {
        dotenv: PathBuf,
        /// Log sections only where GitLab renders them.
        sections: bool,
    },
    Plain,
}

#[derive(Clone, Debug)]
pub struct Ci {
    pub platform: Platform,
    /// Random per run: the `::stop-commands::` token.
    token: String,
}

/// Where GitLab mode writes the dotenv report when `--dotenv` is not given.
pub const DEFAULT_DOTENV: &str = "cdn-refresh.env";
/// The report's file name when CI mode picks its path.
pub const DEFAULT_REPORT: &str = "cdn-refresh-report.json";

impl Ci {
    /// The platform from the environment; `dotenv` is the `--dotenv` option.
    pub fn detect(env: &Env, dotenv: Option<PathBuf>) -> Ci {
        let platform = if env.get("GITHUB_ACTIONS") == Some("true") {
            Platform::GitHub {
                output: env.get("GITHUB_OUTPUT").map(PathBuf::from),
                step_summary: env.get("GITHUB_STEP_SUMMARY").map(PathBuf::from),
                runner_temp: env.get("RUNNER_TEMP").map(PathBuf::from),
            }
        } else if env.get("GITLAB_CI") == Some("true") || dotenv.is_some() {
            Platform::GitLab {
                dotenv: dotenv.unwrap_or_else(|| PathBuf::from(DEFAULT_DOTENV)),
                sections: env.get("GITLAB_CI") == Some("true"),
            }
        } else {
            Platform::Plain
        };
        Ci {
            platform,
            token: format!("cdn-refresh-{}", uuid::Uuid::new_v4().simple()),
        }
    }

    /// In CI the report is always written, so the `report` output can point at it:
    /// `$RUNNER_TEMP` on GitHub (outside the checkout), the project directory on GitLab
    /// (where `artifacts: paths` can keep it).
    pub fn default_report_path(&self) -> Option<PathBuf> {
        match &self.platform {
            Platform::GitHub { runner_temp, .. } => Some(
                runner_temp
                    .clone()
                    .unwrap_or_else(std::env::temp_dir)
                    .join(DEFAULT_REPORT),
            ),
            Platform::GitLab { .. } => Some(PathBuf::from(DEFAULT_REPORT)),
            Platform::Plain => None,
        }
    }

    /// Opens a folded part of the log (`name` in `[a-z0-9_.-]`).
    pub fn begin(&self, name: &str, title: &str) -> Printable {
        match &self.platform {
            Platform::GitHub { .. } => github::group(title).into(),
            Platform::GitLab { sections: true, .. } => {
                gitlab::section_start(name, title, now(), true).into()
            }
            _ => "".into(),
        }
    }

    pub fn end(&self, name: &str) -> Printable {
        match &self.platform {
            Platform::GitHub { .. } => github::END_GROUP.into(),
            Platform::GitLab { sections: true, .. } => gitlab::section_end(name, now()).into(),
            _ => "".into(),
        }
    }

    /// Text that may echo file names or URLs: on GitHub, nothing in it runs as a command.
    pub fn verbatim(&self, text: &str) -> Printable {
        match &self.platform {
            Platform::GitHub { .. } if !text.is_empty() => {
                github::verbatim(text, &self.token).into()
            }
            _ => text.into(),
        }
    }

    /// An error that stops the run before it starts: an annotation on GitHub.
    pub fn error(&self, title: &str, message: &str) -> Printable {
        match &self.platform {
            Platform::GitHub { .. } => {
                github::annotation(github::Level::Error, title, message).into()
            }
            _ => "".into(),
        }
    }

    /// A warning that does not fail the run (a marker that could not be moved): an
    /// annotation on GitHub.
    pub fn warning(&self, title: &str, message: &str) -> Printable {
        match &self.platform {
            Platform::GitHub { .. } => {
                github::annotation(github::Level::Warning, title, message).into()
            }
            _ => "".into(),
        }
    }

    /// Publishes a finished run: step outputs and job summary (GitHub) or the dotenv report
    /// (GitLab). Returns what to print (annotations, warnings), or why a file could not be
    /// written.
    pub fn publish(
        &self,
        report: &Report,
        report_path: Option<&Path>,
    ) -> Result<Printable, String> {
        self.write(
            &outputs(report, report_path),
            || github::summary(report, report_path),
            || github::annotations(report, report_path),
        )
    }

    /// [`Ci::publish`] for a run with several targets: the overall outputs plus `targets`,
    /// a summary with a table of the targets then each target's own, and each target's
    /// annotations, named.
    pub fn publish_multi(
        &self,
        report: &MultiReport,
        report_path: Option<&Path>,
    ) -> Result<Printable, String> {
        self.write(
            &multi_outputs(report, report_path),
            || github::multi_summary(report, report_path),
            || {
                report
                    .targets
                    .iter()
                    .map(|t| github::annotations(t, report_path))
                    .collect()
            },
        )
    }

    /// Publishes a run that ended on bad input: outputs (`status` `failed`, counts 0) and,
    /// on GitHub, a job summary with the message, so a workflow's later steps and the run's
    /// page say what happened (the annotation is printed apart).
    pub fn publish_bad_input(&self, message: &str) -> Result<Printable, String> {
        self.write(
            &super::bad_input_outputs(),
            || github::bad_input_summary(message),
            || github::Command::new(String::new()),
        )
    }

    fn write(
        &self,
        values: &[(&str, String)],
        summary: impl FnOnce() -> String,
        annotations: impl FnOnce() -> github::Command,
    ) -> Result<Printable, String> {
        match &self.platform {
            Platform::GitHub {
                output,
                step_summary,
                ..
            } => {
                if let Some(path) = output {
                    let text = github::output_file(values, || {
                        format!("ghadelimiter_{}", uuid::Uuid::new_v4())
                    });
                    append(path, &text, "GITHUB_OUTPUT")?;
                }
                if let Some(path) = step_summary {
                    append(path, &summary(), "GITHUB_STEP_SUMMARY")?;
                }
                Ok(annotations().into())
            }
            Platform::GitLab { dotenv, .. } => {
                let (text, warnings) = gitlab::dotenv(values);
                std::fs::write(dotenv, text).map_err(|e| {
                    format!(
                        "cannot write the dotenv report {}: {e} (fix: point --dotenv at a writable path)",
                        dotenv.display()
                    )
                })?;
                Ok(warnings
                    .iter()
                    .map(|w| format!("warning: {w}\n"))
                    .collect::<String>()
                    .into())
            }
            Platform::Plain => Ok("".into()),
        }
    }
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// File commands are appended: earlier steps' lines in the same file stay.
fn append(path: &Path, text: &str, what: &str) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("cannot write {what} ({}): {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Env {
        Env::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn the_platform_comes_from_the_environment() {
        let gh = Ci::detect(
            &env(&[("GITHUB_ACTIONS", "true"), ("RUNNER_TEMP", "/rt")]),
            None,
        );
        assert_eq!(
            gh.default_report_path(),
            Some(PathBuf::from("/rt/cdn-refresh-report.json"))
        );
        let gl = Ci::detect(&env(&[("GITLAB_CI", "true")]), None);
        assert_eq!(
            gl.platform,
            Platform::GitLab {
                dotenv: PathBuf::from(DEFAULT_DOTENV),
                sections: true
            }
        );
        // A dotenv path outside GitLab (gitlab-ci-local, a hook): the file, no sections.
        let local = Ci::detect(&env(&[]), Some(PathBuf::from("o.env")));
        assert_eq!(
            local.platform,
            Platform::GitLab {
                dotenv: PathBuf::from("o.env"),
                sections: false
            }
        );
        let plain = Ci::detect(&env(&[("CI", "true")]), None);
        assert_eq!(plain.platform, Platform::Plain);
        assert_eq!(plain.default_report_path(), None);
        assert_eq!(plain.verbatim("::x::"), "::x::");
        assert_eq!(plain.begin("a", "A"), "");
    }
}
