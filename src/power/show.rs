//! The plan as the operator reads it: resources grouped by action, with totals and
//! the comparison with what is expected.

use crate::output::{Mark, Printer};
use crate::terraform::plan::{Action, PlanSummary};

/// On stdout as text; with `--output json` the command prints its document instead
/// (the comparison still goes to stderr).
pub fn print_summary(printer: &Printer, summary: &PlanSummary, mismatches: &[String]) {
    if printer.is_json() {
        print_comparison(printer, mismatches);
        return;
    }
    let mut action: Option<Action> = None;
    for change in &summary.changes {
        if action != Some(change.action) {
            action = Some(change.action);
            let count = summary.count(change.action);
            let heading = format!("{} ({count}):", change.action.label());
            printer.data(&match mark(change.action) {
                Some(m) => printer.marked(m, &printer.emphasis(&heading)),
                None => printer.emphasis(&heading),
            });
        }
        let marker = if change.in_target { " " } else { "!" };
        let line = format!("  {marker} {:<60} {}", change.address, change.resource_type);
        printer.data(&match mark(change.action) {
            Some(m) => printer.marked(m, &line),
            None => line,
        });
    }
    let t = summary.totals();
    printer.data(&format!(
        "Plan: {} to add, {} to change, {} to destroy.",
        t.add, t.change, t.destroy
    ));
    print_comparison(printer, mismatches);
}

/// The colour of a resource's line: what is created green, changed yellow, destroyed red.
fn mark(action: Action) -> Option<Mark> {
    match action {
        Action::Create => Some(Mark::Add),
        Action::Update => Some(Mark::Change),
        Action::Delete | Action::Replace => Some(Mark::Remove),
        Action::Read | Action::Forget | Action::Other => None,
    }
}

fn print_comparison(printer: &Printer, mismatches: &[String]) {
    if mismatches.is_empty() {
        printer.info("The plan matches what is expected.");
    } else {
        printer.warn(&printer.highlight("The plan differs from what is expected:"));
        for problem in mismatches {
            printer.warn(&format!("  {}", printer.highlight(problem)));
        }
    }
}
