//! Output script classification, following Bitcoin Core's `Solver` (script/solver.cpp).

use fundtrace_core::ScriptType;

use crate::address::AddressKey;
use crate::hash::hash160;

const OP_0: u8 = 0x00;
const OP_PUSHDATA1: u8 = 0x4c;
const OP_PUSHDATA2: u8 = 0x4d;
const OP_PUSHDATA4: u8 = 0x4e;
const OP_1: u8 = 0x51;
const OP_16: u8 = 0x60;
const OP_RETURN: u8 = 0x6a;
const OP_DUP: u8 = 0x76;
const OP_EQUAL: u8 = 0x87;
const OP_EQUALVERIFY: u8 = 0x88;
const OP_HASH160: u8 = 0xa9;
const OP_CHECKSIG: u8 = 0xac;
const OP_CHECKMULTISIG: u8 = 0xae;

/// What an output script is and, where it has one, its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Classified<'a> {
    pub script_type: ScriptType,
    pub address: Option<AddressKey>,
    /// The public key of a P2PK output, kept so the key can be shown and linked.
    pub pubkey: Option<&'a [u8]>,
}

/// Core's `CPubKey::ValidSize`: the header byte fixes the length.
fn valid_pubkey(k: &[u8]) -> bool {
    match k.first() {
        Some(2 | 3) => k.len() == 33,
        Some(4 | 6 | 7) => k.len() == 65,
        _ => false,
    }
}

/// Iterates over a script's opcodes, yielding (opcode, pushed data); `None` ends on bad pushes.
struct Ops<'a> {
    s: &'a [u8],
}

impl<'a> Iterator for Ops<'a> {
    type Item = Option<(u8, &'a [u8])>;
    fn next(&mut self) -> Option<Self::Item> {
        let (&op, rest) = self.s.split_first()?;
        let (len, rest) = match op {
            1..=0x4b => (op as usize, rest),
            OP_PUSHDATA1 => match rest.split_first() {
                Some((&n, r)) => (n as usize, r),
                None => return Some(None),
            },
            OP_PUSHDATA2 if rest.len() >= 2 => (u16::from_le_bytes([rest[0], rest[1]]) as usize, &rest[2..]),
            OP_PUSHDATA4 if rest.len() >= 4 => {
                (u32::from_le_bytes(rest[..4].try_into().unwrap()) as usize, &rest[4..])
            }
            OP_PUSHDATA2 | OP_PUSHDATA4 => return Some(None),
            _ => (0, rest),
        };
        if rest.len() < len {
            self.s = &[];
            return Some(None);
        }
        self.s = &rest[len..];
        Some(Some((op, &rest[..len])))
    }
}

fn is_push_only(script: &[u8]) -> bool {
    Ops { s: script }.all(|op| matches!(op, Some((o, _)) if o <= OP_16))
}

fn small_int(op: u8) -> Option<u8> {
    (OP_1..=OP_16).contains(&op).then(|| op - OP_1 + 1)
}

/// `OP_m <pubkey>... OP_n OP_CHECKMULTISIG` with n keys and 1 <= m <= n.
fn is_multisig(script: &[u8]) -> bool {
    let Some((&last, body)) = script.split_last() else { return false };
    if last != OP_CHECKMULTISIG || body.len() < 2 {
        return false;
    }
    let Some(m) = small_int(body[0]) else { return false };
    let Some(n) = small_int(body[body.len() - 1]) else { return false };
    let mut keys = 0u8;
    for op in (Ops { s: &body[1..body.len() - 1] }) {
        match op {
            Some((_, k)) if valid_pubkey(k) => keys += 1,
            _ => return false,
        }
    }
    keys == n && m <= n
}

/// Classifies an output script. Witness programs follow BIP141: a version opcode and one
/// 2..40-byte push; version 0 with a length other than 20 or 32 is nonstandard, as in Core.
pub fn classify(script: &[u8]) -> Classified<'_> {
    let none = |t| Classified { script_type: t, address: None, pubkey: None };
    let addr = |t, payload: &[u8]| Classified {
        script_type: t,
        address: Some(AddressKey::new(t, payload)),
        pubkey: None,
    };
    let n = script.len();
    if n == 25
        && script[..3] == [OP_DUP, OP_HASH160, 20]
        && script[23..] == [OP_EQUALVERIFY, OP_CHECKSIG]
    {
        return addr(ScriptType::P2pkh, &script[3..23]);
    }
    if n == 23 && script[..2] == [OP_HASH160, 20] && script[22] == OP_EQUAL {
        return addr(ScriptType::P2sh, &script[2..22]);
    }
    if (4..=42).contains(&n)
        && (script[0] == OP_0 || small_int(script[0]).is_some())
        && script[1] as usize == n - 2
    {
        let program = &script[2..];
        return match (script[0], program.len()) {
            (OP_0, 20) => addr(ScriptType::P2wpkh, program),
            (OP_0, 32) => addr(ScriptType::P2wsh, program),
            (OP_0, _) => none(ScriptType::Nonstandard),
            (OP_1, 32) => addr(ScriptType::P2tr, program),
            (op, _) => {
                let mut payload = [0u8; 41];
                payload[0] = small_int(op).unwrap();
                payload[1..1 + program.len()].copy_from_slice(program);
                addr(ScriptType::WitnessUnknown, &payload[..1 + program.len()])
            }
        };
    }
    if n >= 1 && script[0] == OP_RETURN && is_push_only(&script[1..]) {
        return none(ScriptType::OpReturn);
    }
    if (n == 35 || n == 67) && script[0] as usize == n - 2 && script[n - 1] == OP_CHECKSIG {
        let key = &script[1..n - 1];
        if valid_pubkey(key) {
            return Classified {
                script_type: ScriptType::P2pk,
                address: Some(AddressKey::new(ScriptType::P2pkh, &hash160(key))),
                pubkey: Some(key),
            };
        }
    }
    if is_multisig(script) {
        return none(ScriptType::Multisig);
    }
    none(ScriptType::Nonstandard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Network;
    use fundtrace_core::hex_decode;

    fn class(hex: &str) -> (ScriptType, Option<String>) {
        let s = hex_decode(hex).unwrap();
        let c = classify(&s);
        (c.script_type, c.address.map(|a| a.encode(Network::Main)))
    }

    #[test]
    fn standard_templates() {
        // Genesis coinbase output: P2PK, shown as the key's P2PKH address.
        assert_eq!(
            class("4104678afdb0fe5548271967f1a67130b7105cd6a828e03909a67962e0ea1f61deb649f6bc3f4cef38c4f35504e51ec112de5c384df7ba0b8d578a4c702b6bf11d5fac"),
            (ScriptType::P2pk, Some("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa".into()))
        );
        assert_eq!(
            class("76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac"),
            (ScriptType::P2pkh, Some("1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa".into()))
        );
        assert_eq!(
            class("0014751e76e8199196d454941c45d1b3a323f1433bd6"),
            (ScriptType::P2wpkh, Some("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4".into()))
        );
        assert_eq!(
            class("51200000000000000000000000000000000000000000000000000000000000000000").0,
            ScriptType::P2tr
        );
        // Pay-to-anchor (witness v1, 2 bytes) is a witness program of unknown use.
        assert_eq!(class("51024e73"), (ScriptType::WitnessUnknown, Some("bc1pfeessrawgf".into())));
        assert_eq!(class("0013751e76e8199196d454941c45d1b3a323f1433b").0, ScriptType::Nonstandard);
        assert_eq!(class("6a0b68656c6c6f20776f726c64").0, ScriptType::OpReturn);
        assert_eq!(class("6a").0, ScriptType::OpReturn);
        assert_eq!(class("6aac").0, ScriptType::Nonstandard); // OP_RETURN then a non-push
        // 1-of-1 bare multisig with a compressed key; a bad key length is nonstandard.
        let key = "02".to_string() + &"11".repeat(32);
        assert_eq!(class(&format!("5121{key}51ae")).0, ScriptType::Multisig);
        assert_eq!(class(&format!("5221{key}51ae")).0, ScriptType::Nonstandard);
        assert_eq!(class("21030000ac").0, ScriptType::Nonstandard);
        assert_eq!(class("").0, ScriptType::Nonstandard);
        assert_eq!(class("4c").0, ScriptType::Nonstandard);
    }
}
