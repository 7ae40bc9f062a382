//! group-fsm against the model broker: scenarios and randomized simulation.

mod scenarios;
mod sim;
