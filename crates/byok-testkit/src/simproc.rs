//! Starting `byok-vault-sim` for tests: a fresh state dir, a free loopback port.

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

pub struct SimProc {
    child: Child,
    pub url: String,
    pub ca: PathBuf,
    /// What it plays, as its ready line says: `keyvault` or `managedhsm`.
    pub kind: String,
    pub log: PathBuf,
}

impl SimProc {
    /// Start a simulator with its state in `dir` and `extra` flags; wait for its ready line.
    pub fn start(dir: &Path, extra: &[&str]) -> SimProc {
        std::fs::create_dir_all(dir).unwrap();
        let log = dir.with_extension("log");
        let mut child = Command::new(crate::sim_bin())
            .args(["--listen", "127.0.0.1:0", "--state-dir"])
            .arg(dir)
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(std::fs::File::create(&log).unwrap()))
            .spawn()
            .expect("start byok-vault-sim");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let Some((url, ca, kind)) = parse_ready(&line) else {
            panic!(
                "simulator did not start: {}",
                std::fs::read_to_string(&log).unwrap_or_default()
            )
        };
        SimProc {
            child,
            url,
            ca,
            kind,
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// GET a path (api-version added) with any bearer token, as JSON.
    pub fn get(&self, path: &str) -> Value {
        self.call("GET", path, None)
    }

    /// A request with any bearer token and api-version 7.6; retried past injected
    /// 429s and 503s. Returns the body as JSON.
    pub fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let agent = crate::harness::agent_trusting(&self.ca);
        let sep = if path.contains('?') { '&' } else { '?' };
        let url = format!("{}{path}{sep}api-version=7.6", self.url);
        for _ in 0..20 {
            let req = ureq::http::Request::builder()
                .method(method)
                .uri(&url)
                .header("authorization", "Bearer test")
                .header("content-type", "application/json");
            let sent = match &body {
                Some(b) => agent.run(req.body(serde_json::to_vec(b).unwrap()).unwrap()),
                None => agent.run(req.body(ureq::SendBody::none()).unwrap()),
            };
            let Ok(mut r) = sent else { continue };
            if [429, 503].contains(&r.status().as_u16()) {
                std::thread::sleep(std::time::Duration::from_millis(100));
                continue;
            }
            return serde_json::from_str(&r.body_mut().read_to_string().unwrap())
                .unwrap_or(Value::Null);
        }
        panic!("{method} {path} kept failing")
    }

    /// How many versions key `name` has.
    pub fn versions(&self, name: &str) -> usize {
        self.get(&format!("/keys/{name}/versions"))["value"]
            .as_array()
            .map(|a| a.len())
            .unwrap_or(0)
    }
}

impl Drop for SimProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let log = self.log_text();
            assert!(
                !log.contains("panicked") && !log.contains(" -> 500"),
                "simulator failed internally:\n{log}"
            );
        }
    }
}

/// The simulator's ready line, `{"url": …, "ca": …, "kind": …}`: its URL, CA file and
/// the service it plays (`keyvault` or `managedhsm`).
pub fn parse_ready(line: &str) -> Option<(String, PathBuf, String)> {
    let v: Value = serde_json::from_str(line).ok()?;
    Some((
        v["url"].as_str()?.to_string(),
        PathBuf::from(v["ca"].as_str()?),
        v["kind"].as_str()?.to_string(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ready_line() {
        let (url, ca, kind) = parse_ready(
            r#"{"url": "https://127.0.0.1:4443", "ca": "/tmp/s/ca.pem", "kind": "managedhsm"}"#,
        )
        .unwrap();
        assert_eq!(url, "https://127.0.0.1:4443");
        assert_eq!(ca, PathBuf::from("/tmp/s/ca.pem"));
        assert_eq!(kind, "managedhsm");
        // A simulator that does not say its kind is too old for these tests.
        assert!(parse_ready(r#"{"url": "https://127.0.0.1:4443", "ca": "/c.pem"}"#).is_none());
        assert!(parse_ready("error: port in use").is_none());
        assert!(parse_ready(r#"{"url": 1}"#).is_none());
    }
}
