//! Fault injection for tests: requests that get an error status, hang, or are
//! carried out while their answer is lost, and a log of the requests received.
//!
//! A rule is `METHOD:PATH:ANSWER[:COUNT]`:
//!
//! * `METHOD` is an HTTP method or `*`;
//! * `PATH` is a path (`/v1/job/monitor`, matched exactly) or a prefix ending with `*`
//!   (`/v1/job/*`); the query string is not part of it;
//! * `ANSWER` is an HTTP status (`500`, `503`: the body is a plain-text error, like
//!   Nomad's), `hang` (the request is never carried out nor answered: the client's
//!   timeout decides) or `lose` (the request is carried out, then never answered: the
//!   change is made but the client cannot know it);
//! * `COUNT` is how many matching requests get the fault (default: every one).
//!
//! The first rule with faults left that matches a request applies. Rules come from
//! `--fail-requests` and from the control endpoints under `/_double/` (not part of
//! Nomad's API: no token, no latency, never faulted, never logged).

use std::fmt;

/// What a faulted request gets instead of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Status(u16),
    Hang,
    Lose,
}

impl fmt::Display for Answer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Answer::Status(code) => write!(f, "{code}"),
            Answer::Hang => f.write_str("hang"),
            Answer::Lose => f.write_str("lose"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    method: String,
    path: String,
    pub answer: Answer,
    /// Faults left; None: every matching request.
    remaining: Option<u64>,
}

impl Rule {
    pub fn parse(spec: &str) -> Result<Rule, String> {
        let bad = |why: &str| {
            format!("fault rule {spec:?}: {why} (expected METHOD:PATH:ANSWER[:COUNT], e.g. DELETE:/v1/job/monitor:500:1)")
        };
        let parts: Vec<&str> = spec.trim().split(':').collect();
        let (method, path, answer, count) = match parts.as_slice() {
            [m, p, a] => (*m, *p, *a, None),
            [m, p, a, c] => (*m, *p, *a, Some(*c)),
            _ => return Err(bad("wrong number of fields")),
        };
        if method.is_empty() || !path.starts_with('/') {
            return Err(bad("the method is empty or the path does not start with /"));
        }
        let answer = match answer {
            "hang" => Answer::Hang,
            "lose" => Answer::Lose,
            code => match code.parse::<u16>() {
                Ok(code @ 400..=599) => Answer::Status(code),
                _ => {
                    return Err(bad(
                        "the answer is not an error status (400-599), hang or lose",
                    ))
                }
            },
        };
        let remaining = match count {
            None => None,
            Some(c) => Some(
                c.parse::<u64>()
                    .ok()
                    .filter(|c| *c > 0)
                    .ok_or_else(|| bad("the count is not a positive number"))?,
            ),
        };
        Ok(Rule {
            method: method.to_ascii_uppercase(),
            path: path.to_owned(),
            answer,
            remaining,
        })
    }

    fn matches(&self, method: &str, path: &str) -> bool {
        let method_matches = self.method == "*" || self.method.eq_ignore_ascii_case(method);
        let path_matches = match self.path.strip_suffix('*') {
            Some(prefix) => path.starts_with(prefix),
            None => path == self.path,
        };
        method_matches && path_matches && self.remaining != Some(0)
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.method, self.path, self.answer)?;
        match self.remaining {
            Some(n) => write!(f, ":{n}"),
            None => Ok(()),
        }
    }
}

/// The rules in force, first match wins.
#[derive(Debug, Default)]
pub struct Faults {
    rules: Vec<Rule>,
}

impl Faults {
    pub fn new(rules: Vec<Rule>) -> Faults {
        Faults { rules }
    }

    pub fn add(&mut self, rule: Rule) {
        self.rules.push(rule);
    }

    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The rules with their faults left, as `--fail-requests` would take them.
    pub fn describe(&self) -> Vec<String> {
        self.rules.iter().map(Rule::to_string).collect()
    }

    /// The fault this request gets, if any (and one fewer left for its rule).
    pub fn take(&mut self, method: &str, path: &str) -> Option<Answer> {
        let rule = self.rules.iter_mut().find(|r| r.matches(method, path))?;
        if let Some(left) = &mut rule.remaining {
            *left -= 1;
        }
        Some(rule.answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_parse_and_match() {
        let rule = Rule::parse("delete:/v1/job/monitor:500:1").unwrap();
        assert_eq!(rule.to_string(), "DELETE:/v1/job/monitor:500:1");
        let mut faults = Faults::new(vec![rule, Rule::parse("*:/v1/job/*:hang").unwrap()]);
        assert_eq!(
            faults.take("POST", "/v1/job/monitor/plan"),
            Some(Answer::Hang)
        );
        assert_eq!(
            faults.take("DELETE", "/v1/job/monitor"),
            Some(Answer::Status(500))
        );
        // The first rule is used up: the catch-all applies.
        assert_eq!(faults.take("DELETE", "/v1/job/monitor"), Some(Answer::Hang));
        assert_eq!(faults.take("GET", "/v1/jobs"), None);
        assert_eq!(
            faults.describe(),
            ["DELETE:/v1/job/monitor:500:0", "*:/v1/job/*:hang"]
        );
    }

    #[test]
    fn bad_rules_say_what_is_expected() {
        for spec in [
            "GET:/v1/jobs",
            "GET:v1/jobs:500",
            "GET:/v1/jobs:200",
            "GET:/v1/jobs:500:0",
        ] {
            let error = Rule::parse(spec).unwrap_err();
            assert!(error.contains("METHOD:PATH:ANSWER[:COUNT]"), "{error}");
        }
        assert_eq!(Rule::parse("GET:/x:lose").unwrap().answer, Answer::Lose);
    }
}
