//! The folders beside the live one and the renames between them, planned here (no I/O)
//! and executed by one remote script (see `script::steps`).
//!
//! With `live_dir = /var/www/html` and `keep = 2`: `html` is served, `html.prev` is the
//! version before, `html.prev.1` and `html.prev.2` the ones before that. A new version
//! is unpacked into `html.new-<time>`; the deploy shifts every kept version one place
//! (the oldest beyond `keep` is moved aside to `html.drop-<time>.<n>` and deleted once
//! the new version is verified), swaps `html` and `html.new-<time>`, and names the
//! version that was live `html.prev`. Each step has an inverse, so a failed
//! verification puts every folder back where it was.

use serde::Serialize;

use crate::config::RemoteDir;
use crate::error::{precondition, CsiError};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Step {
    Rename {
        from: String,
        to: String,
    },
    /// Both names swapped at once (`renameat2` with `RENAME_EXCHANGE`).
    Exchange {
        a: String,
        b: String,
    },
}

impl Step {
    pub fn inverse(&self) -> Step {
        match self {
            Step::Rename { from, to } => Step::Rename {
                from: to.clone(),
                to: from.clone(),
            },
            exchange @ Step::Exchange { .. } => exchange.clone(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Live {
    Directory,
    Missing,
    /// Something that is not a folder (a file, a dangling link): csi does not touch it.
    Other,
}

/// What the probe found on the web host.
#[derive(Debug, Clone, Serialize)]
pub struct RemoteState {
    pub live: Live,
    pub live_has_index: bool,
    /// Kept versions: 0 is `<live>.prev`, n is `<live>.prev.n`; ascending.
    pub generations: Vec<u32>,
    pub parent_writable: bool,
    pub temp_writable: bool,
    /// An atomic exchange works in the live folder's parent.
    pub exchange: bool,
}

impl RemoteState {
    pub fn parse(output: &str) -> RemoteState {
        let mut state = RemoteState {
            live: Live::Missing,
            live_has_index: false,
            generations: Vec::new(),
            parent_writable: false,
            temp_writable: false,
            exchange: false,
        };
        for line in output.lines() {
            match line.split_once(' ').unwrap_or((line, "")) {
                ("live", "dir") => state.live = Live::Directory,
                ("live", "other") => state.live = Live::Other,
                ("live_index", "yes") => state.live_has_index = true,
                ("prev", suffix) => state.generations.extend(generation(suffix)),
                ("parent", "writable") => state.parent_writable = true,
                ("temp", "writable") => state.temp_writable = true,
                ("exchange", "yes") => state.exchange = true,
                _ => {}
            }
        }
        state.generations.sort_unstable();
        state.generations.dedup();
        state
    }
}

/// `""` is `<live>.prev` (0), `".3"` is `<live>.prev.3`; anything else is not ours.
fn generation(suffix: &str) -> Option<u32> {
    if suffix.is_empty() {
        return Some(0);
    }
    let digits = suffix.strip_prefix('.')?;
    let valid = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    valid.then(|| digits.parse().ok()).flatten()
}

/// The names of the folders beside the live one.
#[derive(Debug, Clone)]
pub struct Names {
    pub live: String,
}

impl Names {
    pub fn new(live: &RemoteDir) -> Self {
        Names {
            live: live.as_str().to_owned(),
        }
    }

    pub fn generation(&self, n: u32) -> String {
        match n {
            0 => format!("{}.prev", self.live),
            n => format!("{}.prev.{n}", self.live),
        }
    }

    pub fn new_version(&self, stamp: &str) -> String {
        format!("{}.new-{stamp}", self.live)
    }

    fn dropped(&self, stamp: &str, n: u32) -> String {
        format!("{}.drop-{stamp}.{n}", self.live)
    }

    fn rollback_aside(&self, stamp: &str) -> String {
        format!("{}.rollback-{stamp}", self.live)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DeployLayout {
    /// Where the new version is unpacked.
    pub new_dir: String,
    pub steps: Vec<Step>,
    /// Kept versions renamed: (from, to).
    pub shifted: Vec<(String, String)>,
    /// Versions beyond `keep`: their names now, and where they wait to be deleted.
    pub dropped: Vec<(String, String)>,
    /// The live folder is swapped in one rename (no moment without it).
    pub atomic: bool,
}

impl DeployLayout {
    pub fn plan(names: &Names, state: &RemoteState, keep: u32, stamp: &str) -> DeployLayout {
        let new_dir = names.new_version(stamp);
        let mut layout = DeployLayout {
            new_dir: new_dir.clone(),
            steps: Vec::new(),
            shifted: Vec::new(),
            dropped: Vec::new(),
            atomic: state.live == Live::Missing || state.exchange,
        };
        if state.live == Live::Missing {
            layout.steps.push(rename(&new_dir, &names.live));
            return layout;
        }
        for &n in state.generations.iter().rev() {
            let from = names.generation(n);
            if n + 1 > keep {
                let aside = names.dropped(stamp, n);
                layout.steps.push(rename(&from, &aside));
                layout.dropped.push((from, aside));
            } else {
                let to = names.generation(n + 1);
                layout.steps.push(rename(&from, &to));
                layout.shifted.push((from, to));
            }
        }
        let previous = names.generation(0);
        if state.exchange {
            layout.steps.push(Step::Exchange {
                a: names.live.clone(),
                b: new_dir.clone(),
            });
            layout.steps.push(rename(&new_dir, &previous));
        } else {
            layout.steps.push(rename(&names.live, &previous));
            layout.steps.push(rename(&new_dir, &names.live));
        }
        layout
    }

    /// Every step undone, newest first: the folders exactly as before the swap, the new
    /// version back in `new_dir`.
    pub fn undo(&self) -> Vec<Step> {
        self.steps.iter().rev().map(Step::inverse).collect()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RollbackLayout {
    pub steps: Vec<Step>,
    pub atomic: bool,
    /// The version put back (`<live>.prev`), and where the current one goes (the same).
    pub previous: String,
}

impl RollbackLayout {
    /// Swaps the live folder and `<live>.prev`: the version rolled back from becomes
    /// `<live>.prev`, so a second rollback returns to it.
    pub fn plan(
        names: &Names,
        state: &RemoteState,
        stamp: &str,
    ) -> Result<RollbackLayout, CsiError> {
        let previous = names.generation(0);
        if state.live != Live::Directory {
            return Err(precondition(format!(
                "{} is not a folder on the web host: there is nothing to roll back from",
                names.live
            )));
        }
        if !state.generations.contains(&0) {
            return Err(precondition(format!(
                "there is no {previous} on the web host to roll back to"
            ))
            .with_hint(
                "deploy the version you want instead: csi env deploy-dashboard <env> <dist>",
            ));
        }
        let steps = if state.exchange {
            vec![Step::Exchange {
                a: names.live.clone(),
                b: previous.clone(),
            }]
        } else {
            let aside = names.rollback_aside(stamp);
            vec![
                rename(&names.live, &aside),
                rename(&previous, &names.live),
                rename(&aside, &previous),
            ]
        };
        Ok(RollbackLayout {
            steps,
            atomic: state.exchange,
            previous,
        })
    }

    pub fn undo(&self) -> Vec<Step> {
        self.steps.iter().rev().map(Step::inverse).collect()
    }
}

fn rename(from: &str, to: &str) -> Step {
    Step::Rename {
        from: from.to_owned(),
        to: to.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(generations: &[u32], exchange: bool) -> RemoteState {
        RemoteState {
            live: Live::Directory,
            live_has_index: true,
            generations: generations.to_vec(),
            parent_writable: true,
            temp_writable: true,
            exchange,
        }
    }

    fn names() -> Names {
        Names::new(&RemoteDir::parse("/w/html").unwrap())
    }

    #[test]
    fn the_probe_output_is_read_and_foreign_names_ignored() {
        let state = RemoteState::parse(
            "live dir\nlive_index yes\nprev \nprev .2\nprev .1\nprev .old\nprev .01\nparent writable\nexchange yes\n",
        );
        assert_eq!(state.live, Live::Directory);
        assert_eq!(state.generations, [0, 1, 2]);
        assert!(state.exchange && state.parent_writable && !state.temp_writable);
    }

    #[test]
    fn a_deploy_shifts_the_kept_versions_and_sets_the_oldest_aside() {
        let layout = DeployLayout::plan(&names(), &state(&[0, 1, 2], true), 2, "T");
        assert_eq!(
            layout.dropped,
            [("/w/html.prev.2".to_owned(), "/w/html.drop-T.2".to_owned())]
        );
        assert_eq!(
            layout.shifted,
            [
                ("/w/html.prev.1".to_owned(), "/w/html.prev.2".to_owned()),
                ("/w/html.prev".to_owned(), "/w/html.prev.1".to_owned()),
            ]
        );
        assert_eq!(
            layout.steps[3..],
            [
                Step::Exchange {
                    a: "/w/html".into(),
                    b: "/w/html.new-T".into()
                },
                rename("/w/html.new-T", "/w/html.prev"),
            ]
        );
        assert!(layout.atomic);
    }

    #[test]
    fn undo_restores_every_name() {
        for exchange in [true, false] {
            let layout = DeployLayout::plan(&names(), &state(&[0, 3], exchange), 3, "T");
            let mut folders = vec![
                "/w/html".to_owned(),
                "/w/html.prev".to_owned(),
                "/w/html.prev.3".to_owned(),
                "/w/html.new-T".to_owned(),
            ];
            let before = folders.clone();
            let apply = |folders: &mut Vec<String>, steps: &[Step]| {
                for step in steps {
                    match step {
                        Step::Rename { from, to } => {
                            assert!(!folders.contains(to), "{to} exists");
                            let i = folders.iter().position(|f| f == from).unwrap();
                            folders[i] = to.clone();
                        }
                        Step::Exchange { a, b } => {
                            assert!(folders.contains(a) && folders.contains(b));
                        }
                    }
                }
            };
            apply(&mut folders, &layout.steps);
            assert!(folders.contains(&"/w/html".to_owned()));
            assert!(!folders.contains(&"/w/html.new-T".to_owned()));
            apply(&mut folders, &layout.undo());
            folders.sort();
            let mut expected = before;
            expected.sort();
            assert_eq!(folders, expected, "exchange: {exchange}");
        }
    }

    #[test]
    fn keep_zero_keeps_only_prev_and_a_first_deploy_just_renames() {
        let layout = DeployLayout::plan(&names(), &state(&[0], false), 0, "T");
        assert_eq!(layout.dropped.len(), 1);
        assert!(!layout.atomic);
        let mut first = state(&[], true);
        first.live = Live::Missing;
        let layout = DeployLayout::plan(&names(), &first, 3, "T");
        assert_eq!(layout.steps, [rename("/w/html.new-T", "/w/html")]);
    }

    #[test]
    fn a_rollback_needs_a_previous_version() {
        let err = RollbackLayout::plan(&names(), &state(&[1], true), "T").unwrap_err();
        assert!(err.message.contains("/w/html.prev"), "{}", err.message);
        let layout = RollbackLayout::plan(&names(), &state(&[0], false), "T").unwrap();
        assert_eq!(layout.steps.len(), 3);
    }
}
