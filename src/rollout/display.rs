//! One progress line per service while rollouts run concurrently: bars on a terminal,
//! a plain line on each change otherwise.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::nomad::deployment::DeploymentProgress;
use crate::output::{Live, Printer};

pub struct RolloutDisplay {
    live: Live,
    services: Vec<String>,
    last: Mutex<HashMap<String, String>>,
}

impl RolloutDisplay {
    pub fn new(printer: &Printer, services: &[String]) -> Self {
        RolloutDisplay {
            live: printer.live_rows(services, true),
            services: services.to_vec(),
            last: Mutex::new(HashMap::new()),
        }
    }

    pub fn update(&self, service: &str, message: &str) {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.get(service).map(String::as_str) == Some(message) {
            return;
        }
        last.insert(service.to_owned(), message.to_owned());
        let row = self.services.iter().position(|s| s == service);
        match row {
            Some(row) if self.live.is_drawn() => self.live.set_message(row, message),
            _ => self.live.line(&format!("{service}: {message}")),
        }
    }

    pub fn progress(&self, service: &str, p: &DeploymentProgress) {
        self.update(
            service,
            &format!(
                "{}: placed {}/{}, healthy {}, unhealthy {}",
                p.status, p.placed, p.desired, p.healthy, p.unhealthy
            ),
        );
    }

    pub fn finish(&self) {
        self.live.finish();
    }
}
