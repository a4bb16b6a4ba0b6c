// Package player is a headless DASH client's decision core: the playout
// buffer, the throughput estimate, and the adaptive-bitrate (ABR)
// algorithms behind one interface, run either in virtual time on network
// traces (Simulate, with Sabre's network model, for comparisons on
// thousands of traces) or against real HTTP.
//
// Units follow Sabre: sizes in bits, times in milliseconds, rates in
// kbit/s (bits per millisecond).
package player
