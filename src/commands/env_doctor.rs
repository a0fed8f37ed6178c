//! `csi env doctor <env>`: services that are missing from Nomad (garbage-collected
//! after a stop), or pending because they cannot be placed (with the exhausted
//! dimension). `--fix` resubmits missing ones from their files and lowers the CPU of
//! pending ones, step by step down to a floor, on the live job (`--persist`: in the
//! file too), then watches them get placed. The diagnosis and the repairs are
//! `rollout::doctor`'s.

use serde_json::{json, Value};

use super::Context;
use crate::cli::DoctorArgs;
use crate::error::{precondition, CsiError, Kind};
use crate::nomad::NomadClient;
use crate::operation;
use crate::rollout::doctor;
use crate::rollout::RolloutDisplay;

pub async fn run(ctx: &Context, args: DoctorArgs) -> anyhow::Result<()> {
    let settings = ctx.reach(&args.env).await?;
    let client = NomadClient::new(
        &settings.nomad,
        settings.nomad.deploy_timeout + std::time::Duration::from_secs(30),
    )?;
    let diagnoses = settings
        .services
        .iter()
        .map(|service| doctor::diagnose(&client, service));
    let diagnoses = futures::future::try_join_all(diagnoses).await?;
    let mut problems = Vec::new();
    for (service, problem) in settings.services.iter().zip(diagnoses) {
        if let Some(problem) = problem {
            if !ctx.printer.is_json() {
                ctx.printer
                    .data(&format!("{}: {}", service.name, problem.describe()));
            }
            problems.push((service.clone(), problem));
        }
    }
    let report = |fixed: &[Value]| {
        if ctx.printer.is_json() {
            let found: Vec<Value> = problems
                .iter()
                .map(|(s, p)| json!({"service": s.name, "problem": p.kind(), "detail": p.describe()}))
                .collect();
            ctx.printer
                .json(&json!({"problems": found, "fixes": fixed}));
        }
    };
    if problems.is_empty() {
        report(&[]);
        ctx.printer.info("every service is placed and running");
        return Ok(());
    }
    if !args.fix || ctx.global.dry_run {
        report(&[]);
        return Err(
            precondition(format!("{} service(s) need attention", problems.len()))
                .with_hint(format!(
                    "`csi env doctor {} --fix` repairs them",
                    settings.env_name
                ))
                .into(),
        );
    }
    let params = json!({"fix": true, "persist": args.persist});
    let settings = &settings;
    let problems = &problems;
    operation::run_locked(settings, "doctor", params, |op| async move {
        ctx.prompter.confirm(
            &format!("Repair {} service(s)?", problems.len()),
            &settings.env_name,
            settings.protected,
        )?;
        let names: Vec<String> = problems.iter().map(|(s, _)| s.name.clone()).collect();
        let display = RolloutDisplay::new(&ctx.printer, &names);
        let fixes = doctor::repair(&client, settings, problems, args.persist, &display, &op).await;
        display.finish();
        let mut failures = Vec::new();
        let mut fixed_json = Vec::new();
        for (service, fixed) in fixes {
            match fixed {
                Ok(message) => {
                    op.step("fixed", json!({"service": service.name, "how": message}))?;
                    display.update(&service.name, &message);
                    fixed_json.push(json!({"service": service.name, "fixed": message}));
                }
                Err(e) => {
                    fixed_json.push(json!({"service": service.name, "error": format!("{e:#}")}));
                    failures.push(format!("{}: {e:#}", service.name));
                }
            }
        }
        report(&fixed_json);
        if failures.is_empty() {
            Ok(((), format!("repaired {}", names.join(", "))))
        } else {
            Err(CsiError::new(Kind::Failed, failures.join("; ")).into())
        }
    })
    .await
}
