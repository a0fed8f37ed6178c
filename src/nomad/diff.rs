//! A plan's JobDiff as lines an operator reads: `group/task: Config.image: old -> new`,
//! each with what it does (for its colour).

use super::api::{FieldDiff, JobDiff, ObjectDiff};
use crate::output::Mark;

pub fn diff_lines(diff: &JobDiff) -> Vec<(Mark, String)> {
    let mut lines = Vec::new();
    if diff.kind == "Added" {
        lines.push((Mark::Add, format!("job {} will be created", diff.id)));
        return lines;
    }
    fields(
        &mut lines,
        "job",
        diff.fields.as_deref(),
        diff.objects.as_deref(),
    );
    for group in diff.task_groups.iter().flatten() {
        let at = group.name.clone();
        if group.kind == "Added" || group.kind == "Deleted" {
            lines.push((
                mark_of(&group.kind),
                format!("{at}: group {}", group.kind.to_lowercase()),
            ));
        }
        fields(
            &mut lines,
            &at,
            group.fields.as_deref(),
            group.objects.as_deref(),
        );
        for task in group.tasks.iter().flatten() {
            let at = format!("{}/{}", group.name, task.name);
            fields(
                &mut lines,
                &at,
                task.fields.as_deref(),
                task.objects.as_deref(),
            );
            if let Some(notes) = task.annotations.as_ref().filter(|n| !n.is_empty()) {
                lines.push((Mark::Change, format!("{at}: ({})", notes.join(", "))));
            }
        }
    }
    lines
}

fn fields(
    lines: &mut Vec<(Mark, String)>,
    at: &str,
    fields: Option<&[FieldDiff]>,
    objects: Option<&[ObjectDiff]>,
) {
    for field in fields.into_iter().flatten().filter(|f| f.kind != "None") {
        lines.push((
            mark_of(&field.kind),
            format!("{at}: {}: {}", field.name, change(field)),
        ));
    }
    for object in objects.into_iter().flatten().filter(|o| o.kind != "None") {
        let nested = format!("{at}: {}", object.name);
        for field in object.fields.iter().flatten().filter(|f| f.kind != "None") {
            lines.push((
                mark_of(&field.kind),
                format!("{nested}.{}: {}", field.name, change(field)),
            ));
        }
        fields_nested(lines, &nested, object.objects.as_deref());
    }
}

fn fields_nested(lines: &mut Vec<(Mark, String)>, at: &str, objects: Option<&[ObjectDiff]>) {
    for object in objects.into_iter().flatten().filter(|o| o.kind != "None") {
        let nested = format!("{at}.{}", object.name);
        for field in object.fields.iter().flatten().filter(|f| f.kind != "None") {
            lines.push((
                mark_of(&field.kind),
                format!("{nested}.{}: {}", field.name, change(field)),
            ));
        }
        fields_nested(lines, &nested, object.objects.as_deref());
    }
}

fn mark_of(kind: &str) -> Mark {
    match kind {
        "Added" => Mark::Add,
        "Deleted" => Mark::Remove,
        _ => Mark::Change,
    }
}

fn change(field: &FieldDiff) -> String {
    match field.kind.as_str() {
        "Added" => format!("+ {}", field.new),
        "Deleted" => format!("- {}", field.old),
        _ => format!("{} -> {}", field.old, field.new),
    }
}
