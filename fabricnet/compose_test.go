package fabricnet_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/greenmint/greenmint/fabricnet"
	"go.yaml.in/yaml/v3"
)

type composeFile struct {
	Services map[string]struct {
		Environment map[string]string `yaml:"environment"`
		Command     []string          `yaml:"command"`
		Volumes     []string          `yaml:"volumes"`
	} `yaml:"services"`
}

// TestComposeMatchesInit checks docker-compose.yml against what `greenmint
// fabric init` produces: the services the network's addresses name exist,
// and every /network/… path the containers are configured with is a file
// the init job writes. (No Docker engine runs here; docs/deployment.md says
// what was and was not run.)
func TestComposeMatchesInit(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("docker-compose.yml: %v", err)
	}
	names := []string{fabricnet.ComposeOrderer, strings.Split(fabricnet.ComposeChaincode, ":")[0]}
	for _, a := range fabricnet.ComposePeers {
		names = append(names, strings.Split(a, ":")[0])
	}
	for _, n := range append(names, "network-init", "network-join", "postgres", "ca-registry", "ca-miner", "ca-orderer") {
		if _, ok := cf.Services[n]; !ok {
			t.Errorf("docker-compose.yml has no service %q", n)
		}
	}
	bin := os.Getenv("FABRIC_BIN")
	if bin == "" {
		t.Skip("FABRIC_BIN is not set: the paths are checked against a real `fabric init` only with configtxgen at hand")
	}
	dir := filepath.Join(t.TempDir(), "network")
	if _, err := fabricnet.InitCompose(fabricnet.Options{FabricBin: bin, FabricCfg: os.Getenv("FABRIC_CFG_PATH"), Dir: dir}); err != nil {
		t.Fatal(err)
	}
	paths := regexp.MustCompile(`/network/[^\]\s",]+`)
	checked := 0
	for name, svc := range cf.Services {
		texts := append([]string(nil), svc.Command...)
		for _, v := range svc.Environment {
			texts = append(texts, v)
		}
		for _, txt := range texts {
			for _, p := range paths.FindAllString(txt, -1) {
				local := filepath.Join(dir, strings.TrimPrefix(p, "/network/"))
				if p == "/network/connection.json" {
					continue // written by network-join
				}
				if _, err := os.Stat(local); err != nil {
					t.Errorf("service %s refers to %s, which fabric init does not write", name, p)
				}
				checked++
			}
		}
	}
	if checked < 20 {
		t.Fatalf("only %d paths checked", checked)
	}
}
