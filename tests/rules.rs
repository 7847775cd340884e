//! Mapping rules and the config file, as a user writes them: changed paths → URLs, every rule
//! feature, every error with its line, and the examples of `docs/mapping.md` (kept under
//! `tests/fixtures/config/`, and checked to be in the docs word for word).

use std::path::Path;
use std::time::Duration;

use cdn_refresh::input::cli::RunArgs;
use cdn_refresh::input::config::{Config, ConfigError, OnMissingBase};
use cdn_refresh::input::options::{FailOn, Options};
use cdn_refresh::plan::TaskMode;
use cdn_refresh::plan::rules::{IndexUrl, MapOptions, Mapping, RuleError, RuleSet};
use cdn_refresh::providers::ObjectType;
use cdn_refresh::providers::registry::OptionValue;

fn rules(text: &str) -> RuleSet {
    rules_with(text, &MapOptions::default())
}

fn rules_with(text: &str, options: &MapOptions) -> RuleSet {
    RuleSet::parse(text, options).unwrap_or_else(|errors| panic!("{errors:?}"))
}

fn files(set: &RuleSet, path: &str) -> Vec<String> {
    match set.map(path) {
        Mapping::Files(urls) => urls,
        other => panic!("{path}: {other:?}"),
    }
}

fn one(set: &RuleSet, path: &str) -> String {
    let urls = files(set, path);
    assert_eq!(urls.len(), 1, "{path}: {urls:?}");
    urls.into_iter().next().unwrap()
}

fn errors(text: &str) -> Vec<RuleError> {
    match RuleSet::parse(text, &MapOptions::default()) {
        Ok(_) => panic!("expected errors for {text:?}"),
        Err(errors) => errors,
    }
}

fn error(text: &str) -> RuleError {
    let mut all = errors(text);
    assert_eq!(all.len(), 1, "{all:?}");
    all.remove(0)
}

fn options(index_urls: &[IndexUrl], pretty_urls: bool) -> MapOptions {
    MapOptions {
        index_urls: index_urls.to_vec(),
        pretty_urls,
        ..MapOptions::default()
    }
}

// ---- globs ----

#[test]
fn double_star_crosses_folders_and_single_star_does_not() {
    let set = rules(
        "public/*.css => https://a.com/top/{path}\n\
         public/** => https://a.com/{path}",
    );
    assert_eq!(one(&set, "public/a.css"), "https://a.com/top/a.css");
    assert_eq!(one(&set, "public/x/a.css"), "https://a.com/x/a.css");
    assert_eq!(one(&set, "public/x/y/z.html"), "https://a.com/x/y/z.html");
    assert_eq!(set.map("other/a.css"), Mapping::Unmatched);

    let anywhere = rules("**/*.css => https://a.com/{path}");
    assert_eq!(one(&anywhere, "a.css"), "https://a.com/a.css");
    assert_eq!(
        one(&anywhere, "deep/er/a.css"),
        "https://a.com/deep/er/a.css"
    );
    assert_eq!(anywhere.map("a.js"), Mapping::Unmatched);
}

#[test]
fn question_mark_classes_and_alternatives() {
    let set = rules(
        "img/photo?.jpg => https://a.com/q/{name}\n\
         img/v[0-9].png => https://a.com/digit/{name}\n\
         img/[!v]*.png => https://a.com/notv/{name}\n\
         {css,js}/** => https://a.com/{file}",
    );
    assert_eq!(one(&set, "img/photo1.jpg"), "https://a.com/q/photo1.jpg");
    assert_eq!(set.map("img/photo12.jpg"), Mapping::Unmatched);
    assert_eq!(one(&set, "img/v7.png"), "https://a.com/digit/v7.png");
    assert_eq!(one(&set, "img/logo.png"), "https://a.com/notv/logo.png");
    assert_eq!(set.map("img/vx.png"), Mapping::Unmatched);
    assert_eq!(one(&set, "js/app.js"), "https://a.com/js/app.js");
    assert_eq!(one(&set, "css/a/b.css"), "https://a.com/css/a/b.css");
}

#[test]
fn escaped_metacharacters_match_literally() {
    let set = rules(r"public/\[1\].html => https://a.com/{path}");
    assert_eq!(one(&set, "public/[1].html"), "https://a.com/%5B1%5D.html");
    assert_eq!(set.map("public/1.html"), Mapping::Unmatched);
}

#[test]
fn globs_are_case_sensitive_and_case_is_preserved() {
    let set = rules("Public/** => https://WWW.A.com/Site/{path}");
    assert_eq!(
        one(&set, "Public/Photos/IMG_01.JPG"),
        "https://www.a.com/Site/Photos/IMG_01.JPG"
    );
    assert_eq!(set.map("public/Photos/IMG_01.JPG"), Mapping::Unmatched);
}

// ---- order and excludes ----

#[test]
fn first_match_wins() {
    let set = rules(
        "public/blog/** => https://blog.a.com/{path}\n\
         public/** => https://www.a.com/{path}",
    );
    assert_eq!(one(&set, "public/blog/p.html"), "https://blog.a.com/p.html");
    assert_eq!(one(&set, "public/p.html"), "https://www.a.com/p.html");

    let reversed = rules(
        "public/** => https://www.a.com/{path}\n\
         public/blog/** => https://blog.a.com/{path}",
    );
    assert_eq!(
        one(&reversed, "public/blog/p.html"),
        "https://www.a.com/blog/p.html"
    );
}

#[test]
fn excludes_win_only_when_they_come_first() {
    let set = rules(
        "!public/**/*.map\n\
         public/** => https://a.com/{path}\n\
         !public/**/*.txt",
    );
    assert_eq!(set.map("public/js/app.js.map"), Mapping::Excluded);
    assert_eq!(one(&set, "public/robots.txt"), "https://a.com/robots.txt");
    assert_eq!(set.map("src/main.rs"), Mapping::Unmatched);
}

#[test]
fn comments_and_blank_lines_are_skipped() {
    let set = rules(
        "\u{feff}# the site\n\n   # indented\r\n\
         public/** => https://a.com/{path}   # trailing comment\r\n\
         !drafts/**\t# not published\n",
    );
    assert_eq!(one(&set, "public/a.html"), "https://a.com/a.html");
    assert_eq!(set.map("drafts/x.md"), Mapping::Excluded);
    assert!(rules("# nothing\n\n").is_empty());
}

#[test]
fn paths_that_name_no_repository_file_are_unmatched() {
    let set = rules("** => https://a.com/{path}");
    assert_eq!(one(&set, "./a.html"), "https://a.com/a.html");
    for path in [
        "",
        "a/../b.html",
        "a/./b.html",
        "a//b.html",
        "dir/",
        "/abs.html",
    ] {
        assert_eq!(set.map(path), Mapping::Unmatched, "{path}");
    }
}

// ---- tokens ----

#[test]
fn every_token() {
    let set = rules(
        "public/** => https://a.com/p/{path}, https://a.com/f/{file}, \
         https://a.com/d/{dir}/x, https://a.com/n/{name}, https://a.com/s/{stem}.{ext}",
    );
    assert_eq!(
        files(&set, "public/blog/post.tar.gz"),
        [
            "https://a.com/p/blog/post.tar.gz",
            "https://a.com/f/public/blog/post.tar.gz",
            "https://a.com/d/blog/x",
            "https://a.com/n/post.tar.gz",
            "https://a.com/s/post.tar.gz",
        ]
    );
}

#[test]
fn path_is_below_the_literal_prefix_of_the_glob() {
    let set = rules(
        "_site/blog/*.html => https://a.com/posts/{path}\n\
         public/**/*.html => https://a.com/{path}\n\
         **/*.css => https://a.com/{path}",
    );
    assert_eq!(one(&set, "_site/blog/p.html"), "https://a.com/posts/p.html");
    assert_eq!(one(&set, "public/a/b.html"), "https://a.com/a/b.html");
    assert_eq!(one(&set, "public/a.css"), "https://a.com/public/a.css");
}

#[test]
fn empty_dir_drops_the_slash_after_it() {
    let set = rules("content/** => https://a.com/{dir}/{stem}/");
    assert_eq!(one(&set, "content/about.md"), "https://a.com/about/");
    assert_eq!(one(&set, "content/posts/hi.md"), "https://a.com/posts/hi/");
}

#[test]
fn dotfiles_have_no_extension() {
    let set = rules("public/** => https://a.com/{stem}-{ext}");
    assert_eq!(one(&set, "public/.htaccess"), "https://a.com/.htaccess-");
    assert_eq!(one(&set, "public/x/README"), "https://a.com/README-");
    assert_eq!(one(&set, "public/x/a.b.c"), "https://a.com/a.b-c");
}

#[test]
fn several_templates_give_one_url_each_in_order() {
    let set = rules(
        "public/** => https://www.a.com/{path}, https://a.com/{path},https://cdn.a.com/static/{path}",
    );
    assert_eq!(
        files(&set, "public/app.js"),
        [
            "https://www.a.com/app.js",
            "https://a.com/app.js",
            "https://cdn.a.com/static/app.js"
        ]
    );
    // Two templates that give the same URL give it once.
    let dup = rules("public/** => https://a.com/{path}, https://A.com:443/{path}");
    assert_eq!(files(&dup, "public/x"), ["https://a.com/x"]);
}

#[test]
fn a_comma_inside_a_url_is_not_a_separator() {
    let set = rules("public/** => https://a.com/a,b/{path}");
    assert_eq!(one(&set, "public/x.html"), "https://a.com/a,b/x.html");
}

// ---- index files and pretty URLs ----

#[test]
fn index_files_map_to_the_folder_by_default() {
    let set = rules("public/** => https://a.com/{path}");
    assert_eq!(one(&set, "public/blog/index.html"), "https://a.com/blog/");
    assert_eq!(one(&set, "public/index.html"), "https://a.com/");
    assert_eq!(
        one(&set, "public/blog/about.html"),
        "https://a.com/blog/about.html"
    );
    // A file that only ends like an index file is not one.
    assert_eq!(
        one(&set, "public/myindex.html"),
        "https://a.com/myindex.html"
    );
}

#[test]
fn index_variants_on_and_off() {
    let all = rules_with(
        "public/** => https://a.com/docs/{path}",
        &options(&[IndexUrl::Slash, IndexUrl::Bare, IndexUrl::File], false),
    );
    assert_eq!(
        files(&all, "public/blog/index.html"),
        [
            "https://a.com/docs/blog/",
            "https://a.com/docs/blog",
            "https://a.com/docs/blog/index.html"
        ]
    );
    // At the root, `…/` and `…` are one URL.
    assert_eq!(
        files(&all, "public/index.html"),
        [
            "https://a.com/docs/",
            "https://a.com/docs",
            "https://a.com/docs/index.html"
        ]
    );
    let site_root = rules_with(
        "public/** => https://a.com/{path}",
        &options(&[IndexUrl::Slash, IndexUrl::Bare], false),
    );
    assert_eq!(files(&site_root, "public/index.html"), ["https://a.com/"]);

    let file_only = rules_with(
        "public/** => https://a.com/{path}",
        &options(&[IndexUrl::File], false),
    );
    assert_eq!(
        files(&file_only, "public/blog/index.html"),
        ["https://a.com/blog/index.html"]
    );

    let no_index = rules_with(
        "public/** => https://a.com/{path}",
        &MapOptions {
            index_files: vec![],
            ..MapOptions::default()
        },
    );
    assert_eq!(
        files(&no_index, "public/blog/index.html"),
        ["https://a.com/blog/index.html"]
    );

    let htm = rules_with(
        "public/** => https://a.com/{path}",
        &MapOptions {
            index_files: vec!["index.htm".into(), "default.html".into()],
            ..MapOptions::default()
        },
    );
    assert_eq!(files(&htm, "public/a/default.html"), ["https://a.com/a/"]);
    assert_eq!(files(&htm, "public/a/index.htm"), ["https://a.com/a/"]);
    assert_eq!(
        files(&htm, "public/a/index.html"),
        ["https://a.com/a/index.html"]
    );
}

#[test]
fn index_variants_keep_a_template_query() {
    let set = rules_with(
        "public/** => https://a.com/{path}?v=2",
        &options(&[IndexUrl::Slash, IndexUrl::Bare], false),
    );
    assert_eq!(
        files(&set, "public/blog/index.html"),
        ["https://a.com/blog/?v=2", "https://a.com/blog?v=2"]
    );
}

#[test]
fn pretty_urls_add_the_stripped_spelling() {
    let pretty = rules_with(
        "out/** => https://a.com/{path}",
        &options(&[IndexUrl::Slash], true),
    );
    assert_eq!(
        files(&pretty, "out/about.html"),
        ["https://a.com/about.html", "https://a.com/about"]
    );
    assert_eq!(
        files(&pretty, "out/docs/a b.html"),
        ["https://a.com/docs/a%20b.html", "https://a.com/docs/a%20b"]
    );
    // Index files follow the index options, and other files are left alone.
    assert_eq!(
        files(&pretty, "out/docs/index.html"),
        ["https://a.com/docs/"]
    );
    assert_eq!(files(&pretty, "out/app.js"), ["https://a.com/app.js"]);
    assert_eq!(files(&pretty, "out/.html"), ["https://a.com/.html"]);

    let plain = rules("out/** => https://a.com/{path}");
    assert_eq!(
        files(&plain, "out/about.html"),
        ["https://a.com/about.html"]
    );
}

// ---- whole-site rules and roots ----

#[test]
fn whole_site_rules_refresh_every_root() {
    let set = rules(
        "layouts/** => @all\n\
         public/** => https://www.a.com/{path}, https://a.com/{path}\n\
         help/** => https://help.a.com/docs/v-{stem}.html\n\
         extra/** => https://www.a.com/{path}",
    );
    let roots = vec![
        "https://www.a.com/".to_string(),
        "https://a.com/".to_string(),
        "https://help.a.com/docs/".to_string(),
    ];
    assert_eq!(set.roots(), roots);
    assert_eq!(
        set.map("layouts/_default/single.html"),
        Mapping::WholeSite(roots)
    );
    assert_eq!(one(&set, "help/x.md"), "https://help.a.com/docs/v-x.html");
}

#[test]
fn an_exclude_above_a_whole_site_rule_wins() {
    let set = rules(
        "!layouts/**/*.bak\n\
         layouts/** => @all\n\
         public/** => https://a.com/{path}",
    );
    assert_eq!(set.map("layouts/x.html.bak"), Mapping::Excluded);
    assert_eq!(
        set.map("layouts/x.html"),
        Mapping::WholeSite(vec!["https://a.com/".into()])
    );
}

#[test]
fn whole_site_needs_a_template_and_stands_alone() {
    let e = error("# only this\nlayouts/** => @all");
    assert_eq!(e.line, 2);
    assert!(e.reason.contains("no rule has a template"), "{}", e.reason);

    // A bad template does not also make the whole-site rule an error.
    let e = error("public/** => www.a.com/{path}\nlayouts/** => @all");
    assert_eq!(e.line, 1);

    let e = error("layouts/** => @all, https://a.com/{path}");
    assert!(e.reason.contains("stands alone"), "{}", e.reason);
}

// ---- encoding ----

#[test]
fn file_names_are_percent_encoded_once() {
    let set = rules("public/** => https://a.com/{path}");
    let cases = [
        ("public/a#b?.html", "https://a.com/a%23b%3F.html"),
        ("public/100%.html", "https://a.com/100%25.html"),
        ("public/%41.html", "https://a.com/%2541.html"),
        ("public/my file.html", "https://a.com/my%20file.html"),
        (
            "public/café/über.html",
            "https://a.com/caf%C3%A9/%C3%BCber.html",
        ),
        (
            "public/日本語.html",
            "https://a.com/%E6%97%A5%E6%9C%AC%E8%AA%9E.html",
        ),
        (
            "public/it's \"q\".html",
            "https://a.com/it's%20%22q%22.html",
        ),
        ("public/a+b=c&d.html", "https://a.com/a+b=c&d.html"),
        ("public/back\\slash.html", "https://a.com/back%5Cslash.html"),
        ("public/Mixed/CASE.Html", "https://a.com/Mixed/CASE.Html"),
    ];
    for (path, url) in cases {
        assert_eq!(one(&set, path), url, "{path}");
    }
}

#[test]
fn template_text_is_normalized_like_a_url_list() {
    let set = rules("public/** => HTTPS://Bücher.Example:443/my%20docs/é/{path}");
    assert_eq!(
        one(&set, "public/a.html"),
        "https://xn--bcher-kva.example/my%20docs/%C3%A9/a.html"
    );
}

// ---- errors ----

#[test]
fn bad_glob_names_the_line_and_the_syntax() {
    let e = error("# rules\npublic/[a => https://a.com/{path}");
    assert_eq!(e.line, 2);
    assert_eq!(e.text, "public/[a => https://a.com/{path}");
    assert!(
        e.reason.contains("not valid") && e.reason.contains("`**` across folders"),
        "{}",
        e.reason
    );
    let e = error("public/{a,b => https://a.com/{path}");
    assert!(e.reason.contains("not valid"), "{}", e.reason);
    let e = error("/public/** => https://a.com/{path}");
    assert!(e.reason.contains("write `public/**`"), "{}", e.reason);
    let e = error("!");
    assert!(e.reason.contains("empty"), "{}", e.reason);
}

#[test]
fn unknown_token_lists_the_known_ones() {
    let e = error("public/** => https://a.com/{paht}");
    assert!(
        e.reason.contains("`{paht}`") && e.reason.contains("{path}, {file}, {dir}"),
        "{}",
        e.reason
    );
    let e = error("public/** => https://a.com/{path");
    assert!(e.reason.contains("without `}`"), "{}", e.reason);
    let e = error("public/** => https://a.com/}{path}");
    assert!(e.reason.contains("%7D"), "{}", e.reason);
}

#[test]
fn missing_arrow_shows_both_fixes() {
    let e = error("public/**");
    assert_eq!(e.line, 1);
    assert!(
        e.reason.contains("no `=>`")
            && e.reason
                .contains("`public/** => https://www.example.com/{path}`")
            && e.reason.contains("`!public/**`"),
        "{}",
        e.reason
    );
    let e = error("public/** =>");
    assert!(e.reason.contains("no URL template"), "{}", e.reason);
    let e = error("!public/** => https://a.com/{path}");
    assert!(e.reason.contains("takes no URL"), "{}", e.reason);
}

#[test]
fn templates_must_be_absolute_http_urls_with_a_written_host() {
    let e = error("public/** => www.a.com/{path}");
    assert!(e.reason.contains("add `https://`"), "{}", e.reason);
    let e = error("public/** => ftp://a.com/{path}");
    assert!(e.reason.contains("`ftp`"), "{}", e.reason);
    let e = error("public/** => /{path}");
    assert!(e.reason.contains("scheme is missing"), "{}", e.reason);
    let e = error("public/** => https://{stem}.a.com/x");
    assert!(e.reason.contains("token before the path"), "{}", e.reason);
    let e = error("public/** => https://a.com/{path}#top");
    assert!(e.reason.contains("%23"), "{}", e.reason);
    let e = error("public/** => https://a.com/{path} https://b.com/{path}");
    assert!(e.reason.contains("whitespace"), "{}", e.reason);
    let e = error("public/** => https://a.com/{path},");
    assert!(e.reason.contains("empty"), "{}", e.reason);
}

#[test]
fn every_bad_rule_is_reported_with_its_line() {
    let errors = errors(
        "public/** => https://a.com/{path}\n\
         # comment\n\
         nope\n\
         x/** => https://a.com/{bad}\n\
         \n\
         y/[ => https://a.com/{path}\n",
    );
    let lines: Vec<_> = errors.iter().map(|e| (e.line, e.text.as_str())).collect();
    assert_eq!(
        lines,
        [
            (3, "nope"),
            (4, "x/** => https://a.com/{bad}"),
            (6, "y/[ => https://a.com/{path}")
        ]
    );
    assert!(
        errors[0]
            .to_string()
            .starts_with("line 3: nope: The rule has no `=>`")
    );
}

// ---- the config file ----

fn fixture(name: &str) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/config")
        .join(name);
    Config::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn config_rules(config: &Config) -> RuleSet {
    config.rules(None).unwrap_or_else(|e| panic!("{e:?}"))
}

fn invalid(text: &str) -> (Option<usize>, String, String, String) {
    match Config::parse(text, ".cdn-refresh.yml") {
        Err(ConfigError::Invalid {
            file,
            line,
            key,
            problem,
            fix,
        }) => {
            assert_eq!(file, ".cdn-refresh.yml");
            (line, key, problem, fix)
        }
        other => panic!("{text:?}: {other:?}"),
    }
}

#[test]
fn example_hugo() {
    let config = fixture("hugo.yml");
    let set = config_rules(&config);
    assert_eq!(
        files(&set, "public/posts/hello/index.html"),
        [
            "https://www.example.com/posts/hello/",
            "https://www.example.com/posts/hello"
        ]
    );
    assert_eq!(
        files(&set, "public/index.html"),
        ["https://www.example.com/"]
    );
    assert_eq!(
        files(&set, "public/css/main.css"),
        ["https://www.example.com/css/main.css"]
    );
    assert_eq!(set.map("public/js/app.js.map"), Mapping::Excluded);
    let whole = Mapping::WholeSite(vec!["https://www.example.com/".into()]);
    assert_eq!(set.map("layouts/_default/baseof.html"), whole);
    assert_eq!(set.map("hugo.toml"), whole);
    assert_eq!(set.map("config/_default/params.toml"), whole);
    assert_eq!(set.map("content/posts/hello.md"), Mapping::Unmatched);
    assert_eq!(config.run.task, Some(TaskMode::Both));
}

#[test]
fn example_jekyll() {
    let set = config_rules(&fixture("jekyll.yml"));
    assert_eq!(
        files(&set, "_site/2024/05/01/hello.html"),
        [
            "https://blog.example.com/2024/05/01/hello.html",
            "https://blog.example.com/2024/05/01/hello"
        ]
    );
    assert_eq!(
        files(&set, "_site/about/index.html"),
        ["https://blog.example.com/about/"]
    );
    assert_eq!(
        files(&set, "_site/assets/main.css"),
        ["https://blog.example.com/assets/main.css"]
    );
    let whole = Mapping::WholeSite(vec!["https://blog.example.com/".into()]);
    assert_eq!(set.map("_layouts/post.html"), whole);
    assert_eq!(set.map("_config.yml"), whole);
    assert_eq!(set.map("_posts/2024-05-01-hello.md"), Mapping::Unmatched);
}

#[test]
fn example_nextjs_static_export() {
    let set = config_rules(&fixture("nextjs.yml"));
    assert_eq!(
        files(&set, "out/about.html"),
        [
            "https://app.example.com/about.html",
            "https://app.example.com/about"
        ]
    );
    assert_eq!(files(&set, "out/index.html"), ["https://app.example.com/"]);
    assert_eq!(
        files(&set, "out/blog/[slug].html"),
        [
            "https://app.example.com/blog/%5Bslug%5D.html",
            "https://app.example.com/blog/%5Bslug%5D"
        ]
    );
    assert_eq!(
        set.map("out/_next/static/chunks/main-3f2a1b.js"),
        Mapping::Excluded
    );
    assert_eq!(
        files(&set, "out/favicon.ico"),
        ["https://app.example.com/favicon.ico"]
    );
}

#[test]
fn example_plain_public_folder() {
    let config = fixture("plain.yml");
    let set = config_rules(&config);
    assert_eq!(
        files(&set, "public/index.html"),
        [
            "https://www.example.com/",
            "https://www.example.com/index.html",
            "https://example.com/",
            "https://example.com/index.html"
        ]
    );
    assert_eq!(
        files(&set, "public/img/a b.png"),
        [
            "https://www.example.com/img/a%20b.png",
            "https://example.com/img/a%20b.png"
        ]
    );
    assert_eq!(
        files(&set, "help/start/index.html"),
        [
            "https://help.example.com/docs/start/",
            "https://help.example.com/docs/start",
            "https://help.example.com/docs/start/index.html"
        ]
    );
    assert_eq!(set.map("public/img/.DS_Store"), Mapping::Excluded);
    assert_eq!(
        set.roots(),
        [
            "https://www.example.com/",
            "https://example.com/",
            "https://help.example.com/docs/"
        ]
    );
    assert_eq!(config.run.collapse_threshold, Some(100));
    assert_eq!(config.run.on_missing_base, Some(OnMissingBase::All));
    assert_eq!(config.run.timeout, Some(Duration::from_secs(300)));
    assert_eq!(config.run.fail_on, Some(FailOn::Pending));
}

#[test]
fn every_example_is_in_the_docs_word_for_word() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let docs = std::fs::read_to_string(root.join("docs/mapping.md")).unwrap();
    for name in ["hugo.yml", "jekyll.yml", "nextjs.yml", "plain.yml"] {
        let example =
            std::fs::read_to_string(root.join("tests/fixtures/config").join(name)).unwrap();
        assert!(
            docs.contains(&format!("```yaml\n{example}```")),
            "docs/mapping.md does not show tests/fixtures/config/{name} as it is"
        );
    }
}

#[test]
fn config_holds_every_option() {
    let text = "\
version: 1
mapping: |
  public/** => https://a.com/{path}
whole_site: [layouts/**]
index_files: [index.html, index.htm]
index_urls: [slash, file]
pretty_urls: true
collapse_threshold: 50
on_missing_base: skip
provider: aliyun
task: clear
object_type: Directory
area: domestic
force: true
l2_preload: false
dry_run: false
wait: true
timeout: 600
poll_interval: 3s
endpoint: http://127.0.0.1:8080
qps: 5
concurrency: 4
batch_size: 100
report: out/report.json
fail_on: never
aliyun_signature: v1
";
    let c = Config::parse(text, "c.yml").unwrap();
    assert_eq!(
        c.mapping,
        [(3, "public/** => https://a.com/{path}".to_string())]
    );
    assert_eq!(c.whole_site, [(4, "layouts/**".to_string())]);
    assert_eq!(c.map_options.index_files, ["index.html", "index.htm"]);
    assert_eq!(c.map_options.index_urls, [IndexUrl::Slash, IndexUrl::File]);
    assert!(c.map_options.pretty_urls);
    assert_eq!(c.run.collapse_threshold, Some(50));
    assert_eq!(c.run.on_missing_base, Some(OnMissingBase::Skip));
    let r = &c.run;
    assert_eq!(
        r.task,
        Some(TaskMode::Refresh),
        "clear is the seed script's refresh"
    );
    assert_eq!(r.object_type, Some(ObjectType::Directory));
    assert_eq!(r.option("area"), Some(&OptionValue::Choice("domestic")));
    assert_eq!(
        (r.option("force"), r.option("l2_preload"), r.dry_run, r.wait),
        (
            Some(&OptionValue::Switch(true)),
            Some(&OptionValue::Switch(false)),
            Some(false),
            Some(true)
        )
    );
    assert_eq!(r.timeout, Some(Duration::from_secs(600)));
    assert_eq!(r.poll_interval, Some(Duration::from_secs(3)));
    assert_eq!(
        r.endpoint.as_ref().map(url::Url::as_str),
        Some("http://127.0.0.1:8080/")
    );
    assert_eq!(
        (r.qps, r.concurrency, r.batch_size),
        (Some(5), Some(4), Some(100))
    );
    assert_eq!(r.report.as_deref(), Some(Path::new("out/report.json")));
    assert_eq!(r.fail_on, Some(FailOn::Never));
    assert!(r.provider.is_some() && r.option("aliyun_signature").is_some());
}

#[test]
fn flags_and_env_win_over_the_file() {
    let c = Config::parse("task: both\ntimeout: 5m\nqps: 3\nwait: false\n", "c.yml").unwrap();
    let args = RunArgs {
        task: Some("refresh".into()),
        ..RunArgs::default()
    };
    let merged = Options::from_args(&args).unwrap().or(c.run);
    assert_eq!(merged.task, Some(TaskMode::Refresh));
    assert_eq!(merged.timeout, Some(Duration::from_secs(300)));
    assert_eq!(merged.qps, Some(3));
    assert_eq!(merged.wait, Some(false));
    assert_eq!(merged.fail_on, None);
}

#[test]
fn the_mapping_flag_replaces_the_files_rules_but_keeps_whole_site() {
    let c = Config::parse(
        "mapping: |\n  public/** => https://file.com/{path}\nwhole_site: [layouts/**]\n",
        "c.yml",
    )
    .unwrap();
    let set = c.rules(Some("site/** => https://flag.com/{path}")).unwrap();
    assert_eq!(one(&set, "site/a.html"), "https://flag.com/a.html");
    assert_eq!(set.map("public/a.html"), Mapping::Unmatched);
    assert_eq!(
        set.map("layouts/x.html"),
        Mapping::WholeSite(vec!["https://flag.com/".into()])
    );
    let errors = c
        .rules(Some("ok/** => https://a.com/{path}\nbad"))
        .unwrap_err();
    assert_eq!(errors[0].line, 2);
    // With no mapping at all, whole_site is still checked when the file is read.
    assert!(Config::parse("whole_site: [layouts/**]\n", "c.yml").is_ok());
}

#[test]
fn rules_as_a_list_or_a_block_report_the_files_lines() {
    let list = "version: 1\nmapping:\n  - public/** => https://a.com/{path}\n  - nope\n  - \"x/** => {path}\"\n";
    let Err(ConfigError::Rules { file, errors }) = Config::parse(list, "site.yml") else {
        panic!()
    };
    assert_eq!(file, "site.yml");
    assert_eq!(errors.iter().map(|e| e.line).collect::<Vec<_>>(), [4, 5]);
    let block = "mapping: |\n  # first\n\n  public/** => https://a.com/{path}\n  nope\n";
    let Err(err @ ConfigError::Rules { .. }) = Config::parse(block, "site.yml") else {
        panic!()
    };
    let ConfigError::Rules { errors, .. } = &err else {
        unreachable!()
    };
    assert_eq!(errors[0].line, 5);
    let shown = err.to_string();
    assert!(
        shown.starts_with("site.yml: 1 invalid mapping rule; nothing was sent\n  line 5: nope\n"),
        "{shown}"
    );
}

#[test]
fn unknown_keys_are_named_with_the_known_ones() {
    let (line, key, problem, fix) = invalid("version: 1\npretty_url: true\n");
    assert_eq!((line, key.as_str()), (Some(2), "pretty_url"));
    assert_eq!(problem, "unknown key `pretty_url`");
    assert!(
        fix.contains("pretty_urls")
            && fix.contains("collapse_threshold")
            && fix.contains("mapping"),
        "{fix}"
    );
    let (_, key, _, fix) = invalid("fail-on: never\n");
    assert_eq!(key, "fail-on");
    assert!(fix.contains("write `fail_on`"), "{fix}");
    let (_, key, _, _) = invalid("targets: []\n");
    assert_eq!(key, "targets");
    let (line, _, problem, fix) = invalid("task: both\ntimeout: 1m\ntask: refresh\n");
    assert_eq!(line, Some(3));
    assert_eq!(problem, "the key `task` appears twice");
    assert_eq!(fix, "keep one `task`");
}

#[test]
fn wrong_types_name_the_key_and_line() {
    let (line, key, problem, _) = invalid("version: 1\ncollapse_threshold: many\n");
    assert_eq!((line, key.as_str()), (Some(2), "collapse_threshold"));
    assert_eq!(problem, "expected a whole number");
    let (line, key, problem, _) = invalid("pretty_urls: 3\n");
    assert_eq!((line, key.as_str()), (Some(1), "pretty_urls"));
    assert_eq!(problem, "expected true or false");
    let (_, key, problem, _) = invalid("mapping: 5\n");
    assert_eq!(key, "mapping");
    assert!(
        problem.contains("a list of rules, or a block string"),
        "{problem}"
    );
    let (_, key, problem, fix) = invalid("index_urls: [slash, slant]\n");
    assert_eq!(key, "index_urls[1]");
    assert!(problem.contains("slash, bare, file"), "{problem}");
    assert!(fix.contains("values listed"), "{fix}");
    let (_, key, _, _) = invalid("on_missing_base: maybe\n");
    assert_eq!(key, "on_missing_base");
    let (_, key, _, _) = invalid("whole_site: layouts/**\n");
    assert_eq!(key, "whole_site");
    let (line, key, _, _) = invalid("qps: -1\n");
    assert_eq!((line, key.as_str()), (Some(1), "qps"));
}

#[test]
fn an_unquoted_exclude_in_a_yaml_list_gets_the_quoting_fix() {
    let (line, key, problem, fix) =
        invalid("mapping:\n  - !public/**\n  - public/** => https://a.com/{path}\n");
    assert_eq!((line, key.as_str()), (Some(2), "mapping[0]"));
    assert!(problem.contains("tag"), "{problem}");
    assert!(fix.contains("quote") && fix.contains("mapping: |"), "{fix}");
    let (_, _, _, fix) = invalid("mapping:\n  - **/*.css => https://a.com/{path}\n");
    assert!(fix.contains("quote"), "{fix}");
}

#[test]
fn bad_values_name_the_key_line_and_fix() {
    let cases: &[(&str, usize, &str, &str)] = &[
        ("version: 2\n", 1, "version", "version: 1"),
        ("\ntask: wipe\n", 2, "task", "refresh, prefetch, both"),
        ("object_type: folder\n", 1, "object_type", "directory"),
        ("area: mars\n", 1, "area", "overseas"),
        ("fail_on: sometimes\n", 1, "fail_on", "pending"),
        ("timeout: soon\n", 1, "timeout", "90s"),
        ("poll_interval: x\n", 1, "poll_interval", "90s"),
        ("provider: akamai\n", 1, "provider", "aliyun"),
        ("aliyun_signature: v9\n", 1, "aliyun_signature", "v3"),
        (
            "endpoint: ftp://x\n",
            1,
            "endpoint",
            "https://cdn.aliyuncs.com",
        ),
        ("qps: 0\n", 1, "qps", "positive"),
        ("concurrency: 0\n", 1, "concurrency", "positive"),
        ("batch_size: 0\n", 1, "batch_size", "positive"),
        (
            "collapse_threshold: 0\n",
            1,
            "collapse_threshold",
            "positive",
        ),
        ("index_urls: []\n", 1, "index_urls", "index_files: []"),
        (
            "index_files:\n  - index.html\n  - a/index.html\n",
            3,
            "index_files[1]",
            "plain file names",
        ),
        (
            "whole_site:\n  - layouts/**\n  - \"!x/**\"\n",
            3,
            "whole_site[1]",
            "globs only",
        ),
        (
            "whole_site: [\"layouts/[\"]\n",
            1,
            "whole_site[0]",
            "correct the glob",
        ),
    ];
    for (text, want_line, want_key, want_fix) in cases {
        let (line, key, problem, fix) = invalid(text);
        assert_eq!(
            (line, key.as_str()),
            (Some(*want_line), *want_key),
            "{text}: {problem}"
        );
        assert!(fix.contains(want_fix), "{text}: {fix}");
    }
    let shown = Config::parse("\ntask: wipe\n", ".cdn-refresh.yml")
        .unwrap_err()
        .to_string();
    assert_eq!(
        shown,
        ".cdn-refresh.yml line 2: task: unknown value `wipe`\n  fix: use one of: refresh, \
         prefetch, both, clear, push, purge, preload"
    );
}

#[test]
fn a_missing_file_is_a_read_error() {
    let err = Config::load(Path::new("/nonexistent/.cdn-refresh.yml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(err.to_string().contains("--config"), "{err}");
}

#[test]
fn the_docs_config_example_is_valid() {
    let docs =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/mapping.md"))
            .unwrap();
    let marker = "## The config file\n\n```yaml\n";
    let start = docs.find(marker).unwrap() + marker.len();
    let example = &docs[start..start + docs[start..].find("```").unwrap()];
    let config = Config::parse(example, "docs").unwrap_or_else(|e| panic!("{e}"));
    let set = config_rules(&config);
    assert_eq!(one(&set, "public/a.html"), "https://www.example.com/a.html");
}

#[test]
fn every_ascii_character_in_a_file_name_gives_a_normalized_url() {
    use cdn_refresh::input::url_list::{self, Rules};
    use cdn_refresh::providers::ObjectType;
    let set = rules("public/** => https://a.com/{path}");
    let strict = Rules {
        max_len: 1024,
        object_type: ObjectType::File,
    };
    for byte in 1u8..0x80 {
        let c = char::from(byte);
        if c == '/' {
            continue;
        }
        let path = format!("public/a{c}b.txt");
        let url = one(&set, &path);
        assert_eq!(
            url_list::normalize(&url, &strict).as_deref(),
            Ok(url.as_str()),
            "{c:?}: mapped URLs are already in normal form"
        );
        let encoded = url
            .trim_start_matches("https://a.com/a")
            .trim_end_matches("b.txt");
        if c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@".contains(c) {
            assert_eq!(encoded, c.to_string());
        } else {
            assert_eq!(encoded, format!("%{byte:02X}"), "{c:?}");
        }
    }
}
