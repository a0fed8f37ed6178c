//! The shell scripts run on the web host. Every path is quoted as one shell word here; the paths
//! themselves were checked when csi.hcl was read (absolute, normalised, no control
//! characters). Renames use `mv -T`, so a name that unexpectedly exists as a folder is
//! never moved *into*.

use super::layout::Step;
use crate::process::shell_word as quote;

/// A script as ssh's remote command: run by `sh` whatever the user's login shell is.
pub fn remote_command(script: &str) -> String {
    format!("sh -c {}", quote(script))
}

/// `exchange A B`: swaps two names in one `renameat2(RENAME_EXCHANGE)` call, through
/// perl (in every Debian base system; coreutils 9.1 has no `mv --exchange`). The
/// syscall number depends on the architecture; elsewhere `exchange` is unavailable.
const EXCHANGE_FUNCTION: &str = r#"exchange_nr() {
  case $(uname -m) in
    x86_64) echo 316 ;;
    aarch64|arm64) echo 276 ;;
    *) echo "" ;;
  esac
}
exchange() {
  nr=$(exchange_nr)
  [ -n "$nr" ] || { echo "renameat2: unknown architecture $(uname -m)" >&2; return 1; }
  perl -e 'syscall($ARGV[0], -100, $ARGV[1], -100, $ARGV[2], 2) == 0 or die "renameat2 exchange $ARGV[1] $ARGV[2]: $!\n"' -- "$nr" "$1" "$2"
}
"#;

/// Describes the web host: the live folder, the kept versions, whether the folders are
/// writable and whether an atomic exchange works beside the live folder (tried on an
/// empty probe folder, removed at once).
pub fn probe(live: &str, parent: &str, temp: &str, index: &str) -> String {
    format!(
        r#"set -u
{EXCHANGE_FUNCTION}
live={live}; parent={parent}; temp={temp}; index={index}
if [ -d "$live" ]; then echo "live dir"; elif [ -e "$live" ] || [ -L "$live" ]; then echo "live other"; else echo "live missing"; fi
[ -f "$live/$index" ] && echo "live_index yes"
for d in "$live".prev "$live".prev.*; do
  [ -d "$d" ] || continue
  printf 'prev %s\n' "${{d#"$live".prev}}"
done
[ -d "$parent" ] && [ -w "$parent" ] && echo "parent writable"
[ -d "$temp" ] && [ -w "$temp" ] && echo "temp writable"
probe=$(mktemp -d "$parent/.csi-probe.XXXXXX" 2>/dev/null) || exit 0
mkdir "$probe/a" "$probe/b" && touch "$probe/a/x" && exchange "$probe/a" "$probe/b" 2>/dev/null && [ -e "$probe/b/x" ] && echo "exchange yes"
rm -rf -- "$probe"
exit 0
"#,
        live = quote(live),
        parent = quote(parent),
        temp = quote(temp),
        index = quote(index),
    )
}

/// Writes stdin to `partial` in the temporary folder (the runbook's copy step).
pub fn receive(partial: &str) -> String {
    format!("set -eu\numask 022\ncat > {}\n", quote(partial))
}

/// Checks the upload's size, unpacks it into `new_dir` (a sibling of the live
/// folder), checks the index file is there; removes the upload either way, and the
/// new folder when anything failed.
pub fn unpack(partial: &str, bytes: u64, new_dir: &str, strip: usize, index: &str) -> String {
    format!(
        r#"set -u
umask 022
partial={partial}; new={new}; index={index}
size=$(wc -c < "$partial") || exit 1
if [ "$size" -ne {bytes} ]; then echo "the upload has $size bytes, {bytes} were sent" >&2; rm -f -- "$partial"; exit 1; fi
mkdir -- "$new" || {{ rm -f -- "$partial"; exit 1; }}
if ! tar -xf "$partial" -C "$new" --no-same-owner --strip-components={strip}; then
  rm -f -- "$partial"; rm -rf -- "$new"; exit 1
fi
rm -f -- "$partial"
if [ ! -f "$new/$index" ]; then echo "$new has no $index after unpacking" >&2; rm -rf -- "$new"; exit 1; fi
echo unpacked
"#,
        partial = quote(partial),
        new = quote(new_dir),
        index = quote(index),
    )
}

/// Runs the steps in order; when one fails, undoes those done (newest first) and fails.
pub fn steps(steps: &[Step]) -> String {
    let mut script = format!("set -u\n{EXCHANGE_FUNCTION}");
    for (i, step) in steps.iter().enumerate() {
        let undo: Vec<String> = steps[..i]
            .iter()
            .rev()
            .map(|done| format!("  {} || true\n", command(&done.inverse())))
            .collect();
        script.push_str(&format!(
            "if ! {}; then\n{}  exit 1\nfi\n",
            command(step),
            undo.concat()
        ));
    }
    script.push_str("echo done\n");
    script
}

fn command(step: &Step) -> String {
    match step {
        Step::Rename { from, to } => format!("mv -T -- {} {}", quote(from), quote(to)),
        Step::Exchange { a, b } => format!("exchange {} {}", quote(a), quote(b)),
    }
}

/// Deletes folders (the versions beyond `keep`, a failed version); best effort.
pub fn remove(dirs: &[String]) -> String {
    let words: Vec<String> = dirs.iter().map(|d| quote(d)).collect();
    format!("rm -rf -- {}\n", words.join(" "))
}

/// Prints a file (the live index, for verification without a URL).
pub fn cat(path: &str) -> String {
    format!("cat -- {}\n", quote(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_step_undoes_the_earlier_ones_newest_first() {
        let script = steps(&[
            Step::Rename {
                from: "/w/h.prev".into(),
                to: "/w/h.prev.1".into(),
            },
            Step::Exchange {
                a: "/w/h".into(),
                b: "/w/h.new".into(),
            },
        ]);
        let second = script.find("if ! exchange /w/h /w/h.new").unwrap();
        let undo = &script[second..];
        assert!(
            undo.contains("mv -T -- /w/h.prev.1 /w/h.prev || true"),
            "{script}"
        );
    }
}
