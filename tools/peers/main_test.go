package peers

import (
	"testing"

	"github.com/secaudit/secaudit/internal/testsupport"
)

func TestMain(m *testing.M) { testsupport.Main(m) }
