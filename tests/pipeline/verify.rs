//! `byok verify` names each broken Customer Key rule.

use crate::common::*;
use crate::rig::*;

#[test]
fn verify_names_each_broken_customer_key_rule() {
    // A vault whose keys report a recovery level Customer Key does not accept.
    let r = rig(&["--recovery-level", "Recoverable"]);
    let v = r.vault.url.as_str();
    kek_and_package(&r, "KEK-A", "Key-A");
    ok(&r.byok(&["upload", "Key-A.byok", "--vault", v, "--name", "Key-A"]));
    let o = r.byok(&[
        "verify",
        "--vault",
        v,
        "--name",
        "Key-A",
        "--pub",
        "Key-A.pub.pem",
        "--json",
    ]);
    fails(&o, &["recovery level"]);
    let rep: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let failed: Vec<&str> = rep["rules"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| x["ok"] == false)
        .map(|x| x["rule"].as_str().unwrap())
        .collect();
    assert_eq!(failed, ["recovery level Recoverable+ProtectedSubscription"]);
}
