//! Custodial mixers: customers deposit to a fresh address; later the mixer pays them back,
//! minus its fee, from its pooled funds (other people's coins), to fresh addresses.

use crate::world::{World, MAIN};

#[derive(Clone, Copy, Debug)]
pub struct Payout {
    pub due: u32,
    pub mixer: u32,
    pub customer: u32,
    /// Pocket of the customer's wallet the payout lands in.
    pub pocket: usize,
    pub amount: u64,
}

pub fn schedule(w: &mut World, mixer: u32, customer: u32, pocket: usize, amount: u64, due: u32) {
    w.mixer_payouts.push(Payout { due, mixer, customer, pocket, amount });
}

/// Pays every payout that is due and affordable; others wait.
pub fn process_due(w: &mut World) {
    let height = w.chain.height + 1;
    let due: Vec<Payout> = w.mixer_payouts.iter().copied().filter(|p| p.due <= height).collect();
    w.mixer_payouts.retain(|p| p.due > height);
    for mut p in due {
        if w.wallets[p.mixer as usize].balance(MAIN) < p.amount + 100_000 {
            crate::economy::sweep(w, p.mixer);
        }
        let parts = 1 + w.rng.below(3);
        let mut payments = Vec::new();
        for k in 0..parts {
            let addr = w.new_address(p.customer);
            let v = if k + 1 == parts { p.amount - p.amount / parts * (parts - 1) } else { p.amount / parts };
            payments.push((p.customer, p.pocket, addr, v));
        }
        let before = std::mem::replace(&mut w.role, "mixer_payout");
        let paid = w.pay(p.mixer, MAIN, &payments, 30).is_some();
        w.role = before;
        if !paid {
            p.due = height + 5;
            w.mixer_payouts.push(p);
        }
    }
}
