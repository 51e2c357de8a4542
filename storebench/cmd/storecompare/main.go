// Command storecompare prints the storage comparison behind
// store/filestore (README, "Choices"): publishes per second and bytes
// written per publish for each durability policy, recovery time with
// 100,000 publishes queued, and the size each store adds to a linux/arm
// binary.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/realtimekit/realtime/storebench"
)

func main() {
	quick := flag.Bool("quick", false, "measure briefly and skip the ARM builds (proves the comparison runs)")
	queued := flag.Int("queued", 100_000, "publishes queued for the recovery measurement")
	flag.Parse()
	if *quick {
		*queued = min(*queued, 10_000)
	}
	if err := storebench.Compare(os.Stdout, *queued, !*quick); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
