//! Asking the operator. A prompt appears only on a terminal; without one, and without
//! `--yes`, csi refuses at once instead of waiting for input that cannot come.

use std::io::IsTerminal;

use crate::error::{refused, CsiError};

#[derive(Debug, Clone)]
pub struct Prompter {
    assume_yes: bool,
    interactive: bool,
}

impl Prompter {
    pub fn new(assume_yes: bool) -> Self {
        Prompter {
            assume_yes,
            interactive: std::io::stdin().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    /// Whether a question can be asked (stdin and stderr are terminals).
    pub fn is_interactive(&self) -> bool {
        self.interactive
    }

    /// Confirms a change. A protected environment wants its name typed; elsewhere yes/no.
    /// `--yes` answers for the operator.
    pub fn confirm(&self, question: &str, env: &str, protected: bool) -> Result<(), CsiError> {
        if self.assume_yes {
            return Ok(());
        }
        self.require_terminal()?;
        if protected {
            self.typed_name(question, env)
        } else {
            self.yes_no(question)
        }
    }

    /// A second, separate confirmation for something unexpected (a plan that does not
    /// match expectations, an old backup). `--yes` does not answer it: only the
    /// operator at a terminal, or the command's own explicit flag, can.
    pub fn confirm_exception(&self, question: &str, flag_hint: &str) -> Result<(), CsiError> {
        if !self.interactive {
            return Err(refused(format!("{question} — refusing without a terminal"))
                .with_hint(flag_hint.to_owned()));
        }
        self.yes_no(question)
    }

    fn require_terminal(&self) -> Result<(), CsiError> {
        if self.interactive {
            Ok(())
        } else {
            Err(
                refused("confirmation needed but there is no terminal to ask on")
                    .with_hint("review with --dry-run, then re-run with --yes to confirm"),
            )
        }
    }

    fn yes_no(&self, question: &str) -> Result<(), CsiError> {
        let answer = dialoguer::Confirm::new()
            .with_prompt(question)
            .default(false)
            .interact()
            .map_err(|e| refused(format!("no answer to the confirmation: {e}")))?;
        if answer {
            Ok(())
        } else {
            Err(refused("aborted: the operator answered no"))
        }
    }

    fn typed_name(&self, question: &str, env: &str) -> Result<(), CsiError> {
        let typed: String = dialoguer::Input::new()
            .with_prompt(format!(
                "{question}\n`{env}` is a protected environment: type its name to proceed"
            ))
            .allow_empty(true)
            .interact_text()
            .map_err(|e| refused(format!("no answer to the confirmation: {e}")))?;
        if typed.trim() == env {
            Ok(())
        } else {
            Err(refused(format!(
                "aborted: `{}` is not the environment's name",
                typed.trim()
            )))
        }
    }
}
