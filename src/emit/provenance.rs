//! The provenance an expected file carries: which scenario, seed and
//! workload made it, and the shard (so `merge` can tell shards of one
//! workload from another's).

use crate::engine::{Shard, Workload};
use crate::scenario::Scenario;
use crate::wire::metrics_response::Provenance;

pub fn provenance(scenario: &Scenario, workload: &Workload) -> Provenance {
    use sha2::{Digest, Sha256};
    // The digest leaves the shard out: every shard of one workload has it.
    let whole = Workload {
        shard: Shard::WHOLE,
        ..workload.clone()
    };
    let digest = Sha256::digest(serde_json::to_vec(&whole).unwrap_or_default());
    Provenance {
        scenario: scenario.name.clone(),
        scenario_sha256: scenario.sha256.clone(),
        seed: workload.seed,
        workload: digest[..8].iter().map(|b| format!("{b:02x}")).collect(),
        shard: workload.shard.to_string(),
    }
}
