//! What the README and the operator guide tell a new user to type: the two commands come first,
//! and every `amtctl` command they show exists with the flags they give it (checked against
//! `amtctl … --help`).

use std::collections::HashMap;
use std::process::Command;

const README: &str = include_str!("../../README.md");
const GUIDE: &str = include_str!("../../docs/operator-guide.md");

/// The lines of the fenced code blocks, and the inline code spans, of a Markdown text.
fn code(markdown: &str) -> Vec<String> {
    let mut code = Vec::new();
    let mut fenced = false;
    for line in markdown.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if fenced {
            code.push(line.to_owned());
        } else {
            code.extend(line.split('`').skip(1).step_by(2).map(str::to_owned));
        }
    }
    code
}

/// The argument lists of the `amtctl` invocations in lines of shell (`amtctl …`,
/// `$AMTCTL …`, `cargo run --bin amtctl -- …`), comments and pipelines cut off.
fn invocations(lines: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    for line in lines {
        let line = line.split(" #").next().unwrap_or_default();
        for command in line.split("&&").flat_map(|c| c.split(['|', ';'])) {
            let tokens: Vec<&str> = command.split_whitespace().collect();
            let start = tokens.iter().enumerate().find_map(|(i, token)| {
                let after_bin = i > 0 && tokens[i - 1] == "--bin";
                match *token {
                    "amtctl" if after_bin => (tokens.get(i + 1) == Some(&"--")).then_some(i + 2),
                    "amtctl" | "$AMTCTL" => Some(i + 1),
                    _ => None,
                }
            });
            // A bare `amtctl` names the program; it is not a command to try.
            if let Some(start) = start.filter(|&start| start < tokens.len()) {
                found.push(tokens[start..].iter().map(|t| (*t).to_owned()).collect());
            }
        }
    }
    found
}

/// `amtctl <path> --help`, run once per path.
struct Helps(HashMap<Vec<String>, String>);

impl Helps {
    fn of(&mut self, path: &[String]) -> &str {
        self.0.entry(path.to_vec()).or_insert_with(|| {
            let output = Command::new(env!("CARGO_BIN_EXE_amtctl"))
                .args(path)
                .arg("--help")
                .env_remove("AMT_MANAGER_DB")
                .env_remove("AMT_MANAGER_KEY_FILE")
                .output()
                .expect("amtctl runs");
            assert_eq!(
                output.status.code(),
                Some(0),
                "amtctl {} --help: {}",
                path.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
            String::from_utf8(output.stdout).expect("UTF-8 help")
        })
    }

    /// The subcommands a help text lists.
    fn subcommands(&mut self, path: &[String]) -> Vec<String> {
        let help = self.of(path);
        let Some((_, listed)) = help.split_once("Commands:\n") else {
            return Vec::new();
        };
        listed
            .lines()
            .take_while(|line| !line.is_empty())
            .filter(|line| line.starts_with("  ") && !line.starts_with("   "))
            .filter_map(|line| line.split_whitespace().next())
            .filter(|name| *name != "help")
            .map(str::to_owned)
            .collect()
    }

    /// Whether a help text lists this flag.
    fn has_flag(&mut self, path: &[String], flag: &str) -> bool {
        self.of(path)
            .split_whitespace()
            .any(|token| token.trim_end_matches(',') == flag)
    }
}

/// `amtctl` and the subcommand path, as typed.
fn command_name(path: &[String]) -> String {
    ["amtctl".to_owned()]
        .into_iter()
        .chain(path.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks one invocation: its command path exists, and every flag is one its position allows
/// (those before the command are amtctl's own, those after are the command's or global ones).
fn check(helps: &mut Helps, invocation: &[String]) -> Result<(), String> {
    let shown = format!("amtctl {}", invocation.join(" "));
    let mut path: Vec<String> = Vec::new();
    let mut rest = invocation;
    let mut flags: Vec<(Vec<String>, &str)> = Vec::new();
    while let Some((token, tail)) = rest.split_first() {
        rest = tail;
        if token.starts_with('-') {
            let flag = token.split('=').next().unwrap_or_default();
            flags.push((path.clone(), flag));
            continue;
        }
        let subcommands = helps.subcommands(&path);
        if subcommands.contains(token) {
            path.push(token.clone());
        } else if !path.is_empty() && !subcommands.is_empty() {
            return Err(format!(
                "{shown}: `{token}` is not a subcommand of `{}` ({subcommands:?})",
                command_name(&path)
            ));
        }
    }
    if !helps.subcommands(&path).is_empty() && !flags.iter().any(|(_, f)| *f == "--help") {
        return Err(format!(
            "{shown}: `{}` needs a subcommand",
            command_name(&path)
        ));
    }
    for (position, flag) in flags {
        if !helps.has_flag(&position, flag) {
            return Err(format!(
                "{shown}: `{}` has no flag {flag}",
                command_name(&position)
            ));
        }
    }
    Ok(())
}

#[test]
fn every_amtctl_command_in_the_readme_and_the_guide_exists_with_its_flags() {
    let mut helps = Helps(HashMap::new());
    let mut invocations_seen = 0;
    let mut problems = Vec::new();
    for (document, text) in [("README.md", README), ("docs/operator-guide.md", GUIDE)] {
        for invocation in invocations(&code(text)) {
            invocations_seen += 1;
            if let Err(problem) = check(&mut helps, &invocation) {
                problems.push(format!("{document}: {problem}"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(
        invocations_seen > 20,
        "the documents were read: {invocations_seen} invocations"
    );
}

#[test]
fn the_check_refuses_what_amtctl_does_not_have() {
    let mut helps = Helps(HashMap::new());
    let args = |line: &str| {
        line.split_whitespace()
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    for wrong in [
        "workstation set-legacy-tls ws on",
        "workstation add ws --deployment lab --host h --legacy-tls",
        "status --host h",
        "pool",
    ] {
        assert!(check(&mut helps, &args(wrong)).is_err(), "{wrong}");
    }
    for right in [
        "--host h --ca root.pem --legacy-tls status",
        "workstation add ws --deployment lab --host h --allow-legacy-tls",
        "--json pool list",
        "--help",
    ] {
        assert_eq!(check(&mut helps, &args(right)), Ok(()), "{right}");
    }
}

#[test]
fn the_readme_starts_with_the_two_commands() {
    let first_section = README
        .split("\n## ")
        .nth(1)
        .expect("a second-level section");
    assert!(
        first_section.starts_with("The two commands\n"),
        "{first_section}"
    );
    let block = first_section
        .split("```")
        .nth(1)
        .expect("a code block in the first section");
    let commands: Vec<&str> = block
        .lines()
        .skip(1)
        .filter_map(|line| line.split(" #").next())
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    assert_eq!(
        commands,
        [
            "cargo run --release --bin amt-demo",
            "cargo test --workspace --locked"
        ]
    );
    let intro = README.split("\n## ").next().unwrap_or_default();
    assert!(!intro.contains("```"), "no code before the two commands");
}
