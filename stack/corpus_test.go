package stack

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

func writeCorpus() bool { return os.Getenv("FEATHERIP_WRITE_CORPUS") == "1" }

func writeCorpusFile(t *testing.T, target string, i int, data []byte) {
	dir := filepath.Join("testdata", "fuzz", target)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	body := fmt.Sprintf("go test fuzz v1\n[]byte(%s)\n", strconv.Quote(string(data)))
	if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("seed%02d", i)), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
