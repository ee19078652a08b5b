//! The fuzz targets' inputs, replayed by the normal test run: every file of
//! `fuzz/seeds/<target>/` (the seed corpora) and `fuzz/regressions/<target>/` (inputs a
//! fuzzer once crashed on, kept after the fix) goes through the same check as in the fuzz
//! target (`fuzz/src/lib.rs`, included here), so a fixed crash cannot come back unseen.

#[path = "../fuzz/src/lib.rs"]
mod checks;

use std::path::Path;

fn replay(kind: &str) -> usize {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz")
        .join(kind);
    let mut n = 0;
    for (target, check) in checks::TARGETS {
        let dir = root.join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut files: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            eprintln!("{}", f.display());
            check(&bytes);
            n += 1;
        }
    }
    n
}

#[test]
fn every_seed_passes_its_target_check() {
    let n = replay("seeds");
    assert!(n >= checks::TARGETS.len(), "only {n} seed files");
}

#[test]
fn every_fuzz_regression_passes_its_target_check() {
    replay("regressions");
}
