//! Network parameters: the block-file magic, genesis and address prefixes of each network.

use fundtrace_core::BlockHash;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Network {
    Main,
    Testnet3,
    Testnet4,
    Signet,
    Regtest,
}

impl Network {
    pub const ALL: [Network; 5] =
        [Network::Main, Network::Testnet3, Network::Testnet4, Network::Signet, Network::Regtest];

    /// The four bytes that frame each block in `blk*.dat` (pchMessageStart), in file order.
    pub fn magic(self) -> [u8; 4] {
        match self {
            Network::Main => [0xf9, 0xbe, 0xb4, 0xd9],
            Network::Testnet3 => [0x0b, 0x11, 0x09, 0x07],
            Network::Testnet4 => [0x1c, 0x16, 0x3f, 0x28],
            Network::Signet => [0x0a, 0x03, 0xcf, 0x40], // the default signet
            Network::Regtest => [0xfa, 0xbf, 0xb5, 0xda],
        }
    }

    pub fn from_magic(m: [u8; 4]) -> Option<Network> {
        Network::ALL.into_iter().find(|n| n.magic() == m)
    }

    /// The name Bitcoin Core's `-chain` option uses.
    pub fn name(self) -> &'static str {
        match self {
            Network::Main => "main",
            Network::Testnet3 => "test",
            Network::Testnet4 => "testnet4",
            Network::Signet => "signet",
            Network::Regtest => "regtest",
        }
    }

    pub fn from_name(s: &str) -> Option<Network> {
        Network::ALL.into_iter().find(|n| n.name() == s)
    }

    pub fn genesis_hash(self) -> BlockHash {
        let hex = match self {
            Network::Main => "000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f",
            Network::Testnet3 => "000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943",
            Network::Testnet4 => "00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043",
            Network::Signet => "00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6",
            Network::Regtest => "0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206",
        };
        BlockHash::from_display_hex(hex).expect("valid constant")
    }

    /// Block subsidy at `height` in satoshi: 50 BTC halved every 210,000 blocks (150 on regtest).
    pub fn subsidy(self, height: u64) -> u64 {
        let interval = if self == Network::Regtest { 150 } else { 210_000 };
        let halvings = height / interval;
        if halvings >= 64 {
            0
        } else {
            (50 * 100_000_000u64) >> halvings
        }
    }

    /// Human-readable part of segwit addresses (BIP173).
    pub fn bech32_hrp(self) -> &'static str {
        match self {
            Network::Main => "bc",
            Network::Regtest => "bcrt",
            _ => "tb",
        }
    }

    /// Base58check version bytes for P2PKH and P2SH addresses.
    pub fn base58_versions(self) -> (u8, u8) {
        match self {
            Network::Main => (0x00, 0x05),
            _ => (0x6f, 0xc4),
        }
    }
}

impl std::fmt::Display for Network {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}
