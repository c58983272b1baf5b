//! Kinds of output scripts, named as Bitcoin Core's `Solver` names them.

use serde::Serialize;

/// What an output's locking script is. Stored as one byte per output.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
pub enum ScriptType {
    Nonstandard = 0,
    P2pk = 1,
    P2pkh = 2,
    P2sh = 3,
    Multisig = 4,
    OpReturn = 5,
    P2wpkh = 6,
    P2wsh = 7,
    P2tr = 8,
    WitnessUnknown = 9,
}

impl ScriptType {
    pub const ALL: [ScriptType; 10] = [
        ScriptType::Nonstandard,
        ScriptType::P2pk,
        ScriptType::P2pkh,
        ScriptType::P2sh,
        ScriptType::Multisig,
        ScriptType::OpReturn,
        ScriptType::P2wpkh,
        ScriptType::P2wsh,
        ScriptType::P2tr,
        ScriptType::WitnessUnknown,
    ];

    pub fn from_u8(b: u8) -> Option<Self> {
        Self::ALL.get(b as usize).copied()
    }

    /// The name used in CLI output and JSON (`p2pkh`, `op_return`, ...).
    pub fn name(self) -> &'static str {
        match self {
            ScriptType::Nonstandard => "nonstandard",
            ScriptType::P2pk => "p2pk",
            ScriptType::P2pkh => "p2pkh",
            ScriptType::P2sh => "p2sh",
            ScriptType::Multisig => "multisig",
            ScriptType::OpReturn => "op_return",
            ScriptType::P2wpkh => "p2wpkh",
            ScriptType::P2wsh => "p2wsh",
            ScriptType::P2tr => "p2tr",
            ScriptType::WitnessUnknown => "witness_unknown",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_codes_round_trip() {
        for t in ScriptType::ALL {
            assert_eq!(ScriptType::from_u8(t as u8), Some(t));
        }
        assert_eq!(ScriptType::from_u8(10), None);
    }
}
