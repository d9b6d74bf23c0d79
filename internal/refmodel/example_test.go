package refmodel_test

import (
	"fmt"
	"math/rand/v2"

	"github.com/ringsim/ringsim/internal/refmodel"
	"github.com/ringsim/ringsim/sim/bus"
)

// The loop of a differential test: run in chunks of cycles with the RX frames the RTL gets,
// compare the TX frames, and when a batch completes take its results and submit the next.
func ExampleSystem_Run() {
	const d, ports, chunk = 16, 1, 64
	s, err := refmodel.NewSystem(refmodel.Config{Depth: d, Ports: ports, Release: 3})
	if err != nil {
		panic(err)
	}
	m := s.Node.Map()
	rng := rand.New(rand.NewPCG(1, 2))
	batches := [][]bus.Op{
		{bus.Write(m.RX(0)+m.Enable(), 1), bus.Idle(d), bus.Read(m.RX(0) + m.Data(5))},
		refmodel.RandomOps(rng, d, ports, 3),
	}
	rx := [][]uint64{make([]uint64, chunk)}
	tx := [][]uint64{make([]uint64, chunk)}
	for _, b := range batches {
		if err := s.Submit(b); err != nil {
			panic(err)
		}
		for done := false; !done; {
			start := s.Cycle()
			for i := range rx[0] {
				rx[0][i] = start + uint64(i) // port 0's RX frame in cycle start+i
			}
			var n int
			n, done = s.Run(start+chunk, rx, tx)
			_ = tx[0][:n] // port 0's TX frames of cycles start .. start+n-1: compare here
		}
		res, err := s.Take()
		if err != nil {
			panic(err)
		}
		fmt.Printf("done in cycle %d: %+v\n", s.Cycle()-1, res[len(res)-1])
	}
	// Output:
	// done in cycle 21: {Cycle:21 Local:21 Err:false Value:8 Words:[] N:0}
	// done in cycle 29: {Cycle:29 Local:29 Err:false Value:0 Words:[] N:0}
}
