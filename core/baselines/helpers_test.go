package baselines

import (
	"cmp"
	"os"

	"github.com/flowdiff/flowdiff-go/core/nn"
)

// testGoConfig is the pure-Go backend's configuration in tests: nn.PortableBackendConfig
// (see core/nn), or $BASELINES_GO_CONFIG when set.
var testGoConfig = cmp.Or(os.Getenv("BASELINES_GO_CONFIG"), nn.PortableBackendConfig)
