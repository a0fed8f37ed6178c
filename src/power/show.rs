//! The plan as the operator reads it: resources grouped by action, with totals and
//! the comparison with what is expected.

use crate::output::Printer;
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
            printer.data(&printer.emphasis(&format!("{} ({count}):", change.action.label())));
        }
        let marker = if change.in_target { " " } else { "!" };
        printer.data(&format!(
            "  {marker} {:<60} {}",
            change.address, change.resource_type
        ));
    }
    let t = summary.totals();
    printer.data(&format!(
        "Plan: {} to add, {} to change, {} to destroy.",
        t.add, t.change, t.destroy
    ));
    print_comparison(printer, mismatches);
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
