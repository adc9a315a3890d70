// Package fabricnet runs a native two-organisation Hyperledger Fabric
// network on loopback from a Fabric release's binaries (peer, orderer,
// configtxgen, osnadmin), without Docker: one etcdraft orderer, one peer for
// each of the registry's and the first miner's organisations, TLS on, the
// crypto material from Greenmint's own identity package in MSP layout, the
// channel created through the orderer's channel participation API, and the
// contract deployed as chaincode as a service through the lifecycle with
// Greenmint's own external builder. `greenmint fabric up|down` and the
// Fabric tests use it.
package fabricnet

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/greenmint/greenmint"
	"github.com/greenmint/greenmint/consortium"
	"github.com/greenmint/greenmint/identity"
	"github.com/greenmint/greenmint/ledger/fabric"
)

// Options configure a network.
type Options struct {
	FabricBin string // directory with peer, orderer, configtxgen, osnadmin
	FabricCfg string // the release's config directory (core.yaml, orderer.yaml); default FabricBin/../config
	Dir       string // the network's working directory
	// Greenmint is the greenmint binary that serves the chaincode
	// (`greenmint chaincode`). Empty: the caller serves it itself at
	// ChaincodeAddress with the package ID Up reports.
	Greenmint    string
	BasePort     int    // default 27050
	BatchTimeout string // default 20ms
	// Traders adds that many extra organisations, Trader000MSP…, each with a
	// user "trader" of role buyer: load tests need many holders that do not
	// contend for keys.
	Traders int
	Log     io.Writer
}

// ChannelID is the network's channel.
const ChannelID = "greenmint"

// PeerOrgs are the organisations that run a peer.
var PeerOrgs = []string{consortium.RegistryMSP, consortium.MinerMSP}

// RegistryMSP is the network's registry organisation: the contract is
// served configured with it (GREENMINT_REGISTRY_MSP), so only its registry
// identities may bootstrap the ledger.
const RegistryMSP = consortium.RegistryMSP

// OrdererMSP is the ordering service's organisation.
const OrdererMSP = "OrdererMSP"

// Network is a running (or stopped) network as recorded in Dir/network.json.
type Network struct {
	Dir          string         `json:"dir"`
	FabricBin    string         `json:"fabric_bin"`
	FabricCfg    string         `json:"fabric_cfg"`
	OrdererAddr  string         `json:"orderer_addr"`
	OrdererAdmin string         `json:"orderer_admin"`
	OrdererOps   string         `json:"orderer_ops"`
	Peers        map[string]int `json:"peers"` // MSP ID → base port (listen; +1 chaincode, +2 operations)
	// PeerAddrs and Hosts are set for a network whose nodes run elsewhere
	// (containers): the peers' addresses and the names in the TLS
	// certificates. Empty: everything on 127.0.0.1.
	PeerAddrs        map[string]string `json:"peer_addrs,omitempty"`
	Hosts            []string          `json:"hosts,omitempty"`
	ChaincodeAddress string            `json:"chaincode_address"`
	PackageID        string            `json:"package_id"`
	Chaincodes       []string          `json:"chaincodes"` // names deployed
	Sequence         map[string]int    `json:"sequence"`
	log              io.Writer
}

func (o *Options) defaults() error {
	if o.FabricBin == "" {
		return greenmint.Errorf(greenmint.EINVALID, "FABRIC_BIN is not set: point it at a Fabric v3.1 release's bin directory")
	}
	for _, b := range []string{"peer", "orderer", "configtxgen", "osnadmin"} {
		if _, err := os.Stat(filepath.Join(o.FabricBin, b)); err != nil {
			return greenmint.Errorf(greenmint.EINVALID, "%s has no %s binary", o.FabricBin, b)
		}
	}
	if o.FabricCfg == "" {
		o.FabricCfg = filepath.Join(filepath.Dir(o.FabricBin), "config")
	}
	if _, err := os.Stat(filepath.Join(o.FabricCfg, "core.yaml")); err != nil {
		return greenmint.Errorf(greenmint.EINVALID, "no core.yaml in %s (set FABRIC_CFG_PATH to the release's config directory)", o.FabricCfg)
	}
	if o.BasePort == 0 {
		o.BasePort = 27050
	}
	if o.BatchTimeout == "" {
		o.BatchTimeout = "20ms"
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	return nil
}

func (n *Network) logf(format string, args ...any) {
	if n.log != nil {
		fmt.Fprintf(n.log, format+"\n", args...)
	}
}

func (n *Network) path(parts ...string) string {
	return filepath.Join(append([]string{n.Dir}, parts...)...)
}

// OrgsDir is where the organisations' CAs and identities live.
func (n *Network) OrgsDir() string { return n.path("organizations") }

func (n *Network) nodeDir(msp, name string) string {
	return filepath.Join(n.OrgsDir(), msp, "nodes", name)
}

func (n *Network) peerAddr(msp string) string {
	if a, ok := n.PeerAddrs[msp]; ok {
		return a
	}
	return "127.0.0.1:" + strconv.Itoa(n.Peers[msp])
}

// PeerEndpoint returns the gateway endpoint of an organisation's peer.
func (n *Network) PeerEndpoint(msp string) string { return n.peerAddr(msp) }

// TLSRootCert returns the path of the CA certificate that signed an
// organisation's TLS certificates.
func (n *Network) TLSRootCert(msp string) string {
	return filepath.Join(n.OrgsDir(), msp, "msp", "tlscacerts", "ca.pem")
}

// Up creates and starts a fresh network in opts.Dir, deploys the contract as
// chaincode "greenmint" and returns once a transaction endorsed by both
// organisations has committed.
func Up(ctx context.Context, opts Options) (*Network, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if entries, err := os.ReadDir(opts.Dir); err == nil && len(entries) > 0 {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "%s is not empty: run fabric down first", opts.Dir)
	}
	bp := opts.BasePort
	n := &Network{
		Dir: opts.Dir, FabricBin: opts.FabricBin, FabricCfg: opts.FabricCfg,
		OrdererAddr: fmt.Sprintf("127.0.0.1:%d", bp), OrdererAdmin: fmt.Sprintf("127.0.0.1:%d", bp+3), OrdererOps: fmt.Sprintf("127.0.0.1:%d", bp+4),
		Peers:            map[string]int{PeerOrgs[0]: bp + 1000, PeerOrgs[1]: bp + 2000},
		ChaincodeAddress: fmt.Sprintf("127.0.0.1:%d", bp+3000),
		Sequence:         map[string]int{},
		log:              opts.Log,
	}
	for _, addr := range []string{n.OrdererAddr, n.OrdererAdmin, n.peerAddr(PeerOrgs[0]), n.peerAddr(PeerOrgs[1]), n.ChaincodeAddress} {
		if l, err := net.Listen("tcp", addr); err != nil {
			return nil, greenmint.E(greenmint.ECONFLICT, "", err, "port %s is taken (is a network already up?)", addr)
		} else {
			l.Close()
		}
	}
	start := time.Now()
	if err := n.makeCrypto(opts.Traders); err != nil {
		return nil, err
	}
	if err := n.save(); err != nil {
		return nil, err
	}
	if err := n.genesis(opts.BatchTimeout); err != nil {
		return nil, err
	}
	if err := n.startOrderer(ctx); err != nil {
		return nil, err
	}
	if err := n.joinOrderer(ctx); err != nil {
		return nil, err
	}
	if err := n.startPeers(ctx); err != nil {
		return nil, err
	}
	if err := n.joinPeers(ctx); err != nil {
		return nil, err
	}
	pkg, id, err := n.packageCCaaS(Label, n.ChaincodeAddress)
	if err != nil {
		return nil, err
	}
	n.PackageID = id
	if opts.Greenmint != "" {
		if err := n.start("chaincode", opts.Greenmint, []string{"chaincode"}, []string{
			"GREENMINT_CHAINCODE_ID=" + n.PackageID, "GREENMINT_CHAINCODE_ADDRESS=" + n.ChaincodeAddress,
			"GREENMINT_REGISTRY_MSP=" + RegistryMSP,
		}); err != nil {
			return nil, err
		}
	}
	if err := n.install(ctx, pkg); err != nil {
		return nil, err
	}
	if err := n.Deploy(ctx, "greenmint"); err != nil {
		return nil, err
	}
	if err := n.writeConnection(); err != nil {
		return nil, err
	}
	if opts.Greenmint != "" {
		if err := n.WaitServing(ctx, "greenmint"); err != nil {
			return nil, err
		}
	}
	n.logf("network up in %s: orderer %s, peers %s (%s) and %s (%s), chaincode %s at %s",
		time.Since(start).Round(time.Millisecond), n.OrdererAddr, n.peerAddr(PeerOrgs[0]), PeerOrgs[0], n.peerAddr(PeerOrgs[1]), PeerOrgs[1], n.PackageID, n.ChaincodeAddress)
	return n, n.save()
}

func (n *Network) writeConnection() error {
	raw, err := fabric.MarshalConnection(n.Connection("greenmint"))
	if err != nil {
		return err
	}
	return os.WriteFile(n.ConnectionFile(), raw, 0o644)
}

// Compose addresses: the service names of docker-compose.yml.
const (
	ComposeOrderer   = "orderer0"
	ComposeChaincode = "greenmint-chaincode:9999"
)

// ComposePeers are the peer services of docker-compose.yml.
var ComposePeers = map[string]string{PeerOrgs[0]: "peer0-registry:7051", PeerOrgs[1]: "peer0-miner:7051"}

// InitCompose prepares, without starting anything, a network whose nodes
// are the containers of docker-compose.yml: the crypto material with their
// names in the TLS certificates, the channel's genesis block, the chaincode
// package and its ID (in Dir/package_id, for the chaincode service).
func InitCompose(opts Options) (*Network, error) {
	if err := opts.defaults(); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(opts.Dir, "network.json")); err == nil {
		return nil, greenmint.Errorf(greenmint.ECONFLICT, "%s already holds a network", opts.Dir)
	}
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return nil, err
	}
	n := &Network{
		Dir: opts.Dir, FabricBin: opts.FabricBin, FabricCfg: opts.FabricCfg,
		OrdererAddr: ComposeOrderer + ":7050", OrdererAdmin: ComposeOrderer + ":7053", OrdererOps: ComposeOrderer + ":9443",
		PeerAddrs: ComposePeers, ChaincodeAddress: ComposeChaincode, Sequence: map[string]int{}, log: opts.Log,
		Hosts: []string{ComposeOrderer, host(ComposePeers[PeerOrgs[0]]), host(ComposePeers[PeerOrgs[1]])},
	}
	if err := n.makeCrypto(opts.Traders); err != nil {
		return nil, err
	}
	if err := n.genesis(opts.BatchTimeout); err != nil {
		return nil, err
	}
	_, id, err := n.packageCCaaS(Label, n.ChaincodeAddress)
	if err != nil {
		return nil, err
	}
	n.PackageID = id
	if err := os.WriteFile(n.path("package_id"), []byte(id+"\n"), 0o644); err != nil {
		return nil, err
	}
	n.logf("network material in %s; chaincode package %s", n.Dir, id)
	return n, n.save()
}

// Join joins the running orderer and peers of an initialised network to
// the channel, installs the chaincode package, deploys "greenmint" and
// writes the connection file.
func (n *Network) Join(ctx context.Context) error {
	if err := n.joinOrderer(ctx); err != nil {
		return err
	}
	if err := n.joinPeers(ctx); err != nil {
		return err
	}
	if err := n.install(ctx, n.path(Label+".tar.gz")); err != nil {
		return err
	}
	if err := n.Deploy(ctx, "greenmint"); err != nil {
		return err
	}
	return n.writeConnection()
}

// Load reads the network recorded in dir.
func Load(dir string) (*Network, error) {
	raw, err := os.ReadFile(filepath.Join(dir, "network.json"))
	if err != nil {
		return nil, greenmint.Errorf(greenmint.ENOTFOUND, "no Fabric network in %s (run greenmint fabric up)", dir)
	}
	var n Network
	if err := json.Unmarshal(raw, &n); err != nil {
		return nil, fmt.Errorf("fabricnet.Load: %w", err)
	}
	return &n, nil
}

// SetLog sets where progress is written.
func (n *Network) SetLog(w io.Writer) { n.log = w }

func (n *Network) save() error {
	raw, err := json.MarshalIndent(n, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(n.path("network.json"), raw, 0o644)
}

// Down stops every process of the network in dir and removes the directory.
func Down(dir string) error {
	pids, _ := filepath.Glob(filepath.Join(dir, "run", "*.pid"))
	for _, p := range pids {
		raw, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		pid, err := strconv.Atoi(strings.TrimSpace(string(raw)))
		if err != nil {
			continue
		}
		_ = syscall.Kill(-pid, syscall.SIGTERM)
	}
	deadline := time.Now().Add(5 * time.Second)
	for _, p := range pids {
		raw, _ := os.ReadFile(p)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
		for pid > 0 && syscall.Kill(pid, 0) == nil && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if pid > 0 {
			_ = syscall.Kill(-pid, syscall.SIGKILL)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "network.json")); err != nil {
		return nil
	}
	return os.RemoveAll(dir)
}

// TraderMSP names the i-th extra trader organisation.
func TraderMSP(i int) string { return fmt.Sprintf("Trader%03dMSP", i) }

func (n *Network) makeCrypto(traders int) error {
	members := append([]consortium.Member(nil), consortium.DemoMembers...)
	for i := 0; i < traders; i++ {
		members = append(members, consortium.Member{MSPID: TraderMSP(i), User: "trader", Role: greenmint.RoleBuyer})
	}
	c, err := consortium.Create(n.OrgsDir(), members)
	if err != nil {
		return err
	}
	if _, err := c.Store.CreateOrg(OrdererMSP); err != nil {
		return err
	}
	hosts := append([]string{"127.0.0.1", "localhost"}, n.Hosts...)
	if _, err := c.Store.EnrollNode(OrdererMSP, "orderer0", identity.OUOrderer, hosts...); err != nil {
		return err
	}
	if _, err := c.Store.EnrollNode(OrdererMSP, "Admin", identity.OUAdmin, hosts...); err != nil {
		return err
	}
	for _, org := range PeerOrgs {
		if _, err := c.Store.EnrollNode(org, "peer0", identity.OUPeer, hosts...); err != nil {
			return err
		}
		if _, err := c.Store.EnrollNode(org, "Admin", identity.OUAdmin, hosts...); err != nil {
			return err
		}
	}
	return writeBuilder(n.path("builder"))
}

func (n *Network) genesis(batchTimeout string) error {
	orgs, err := (&consortium.Consortium{Store: identity.NewStore(n.OrgsDir())}).Orgs()
	if err != nil {
		return err
	}
	data := configtxData{
		OrdererMSPDir: filepath.Join(n.OrgsDir(), OrdererMSP, "msp"),
		OrdererAddr:   n.OrdererAddr, OrdererHost: "127.0.0.1", OrdererPort: port(n.OrdererAddr),
		OrdererTLS:   filepath.Join(n.nodeDir(OrdererMSP, "orderer0"), "tls", "server.crt"),
		PolicyRule:   fmt.Sprintf("AND('%s.peer', '%s.peer')", PeerOrgs[0], PeerOrgs[1]),
		BatchTimeout: batchTimeout,
	}
	for _, o := range orgs {
		if o.MSPID == OrdererMSP {
			continue
		}
		org := configtxOrg{MSPID: o.MSPID, MSPDir: filepath.Join(n.OrgsDir(), o.MSPID, "msp")}
		for _, p := range PeerOrgs {
			if p == o.MSPID {
				org.Anchor = n.peerAddr(o.MSPID)
			}
		}
		data.Orgs = append(data.Orgs, org)
	}
	cfgDir := n.path("configtx")
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := configtxTemplate.Execute(&buf, data); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "configtx.yaml"), buf.Bytes(), 0o644); err != nil {
		return err
	}
	_, err = n.run(context.Background(), "configtxgen", nil, "-configPath", cfgDir, "-profile", "GreenmintChannel",
		"-channelID", ChannelID, "-outputBlock", n.path("genesis.block"))
	return err
}

// run runs a Fabric CLI binary and returns its combined output.
func (n *Network) run(ctx context.Context, bin string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(n.FabricBin, bin), args...)
	cmd.Env = append(cleanEnv(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), greenmint.E(greenmint.EUNAVAILABLE, "", fmt.Errorf("%w\n%s", err, tail(string(out), 2000)), "%s %s", bin, strings.Join(args, " "))
	}
	return string(out), nil
}

func host(addr string) string {
	h, _, _ := strings.Cut(addr, ":")
	return h
}

func port(addr string) int {
	_, p, _ := strings.Cut(addr, ":")
	v, _ := strconv.Atoi(p)
	return v
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// cleanEnv is the environment without Fabric's own variables, so nothing
// leaks in from the caller's shell.
func cleanEnv() []string {
	var out []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "CORE_") || strings.HasPrefix(kv, "ORDERER_") || strings.HasPrefix(kv, "FABRIC_") {
			continue
		}
		out = append(out, kv)
	}
	return out
}

// start launches a long-running process in its own process group, logging
// to Dir/logs/<name>.log and recording its PID in Dir/run/<name>.pid.
func (n *Network) start(name, bin string, args, env []string) error {
	for _, d := range []string{n.path("logs"), n.path("run")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	logf, err := os.OpenFile(n.path("logs", name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(cleanEnv(), env...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return greenmint.E(greenmint.EUNAVAILABLE, "", err, "cannot start %s", name)
	}
	go func() { _ = cmd.Wait(); logf.Close() }()
	return os.WriteFile(n.path("run", name+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
}

// waitHealthy polls an operations endpoint's /healthz.
func (n *Network) waitHealthy(ctx context.Context, name, addr string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return greenmint.Errorf(greenmint.EUNAVAILABLE, "%s did not become healthy at %s; see %s", name, addr, n.path("logs", name+".log"))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (n *Network) startOrderer(ctx context.Context) error {
	node := n.nodeDir(OrdererMSP, "orderer0")
	cfg := n.path("orderer", "config")
	if err := copyOrdererYAML(n.FabricCfg, cfg); err != nil {
		return err
	}
	_, port, _ := strings.Cut(n.OrdererAddr, ":")
	tlsCA := n.TLSRootCert(OrdererMSP)
	env := []string{
		"FABRIC_CFG_PATH=" + cfg,
		"FABRIC_LOGGING_SPEC=info:grpc=warning",
		"ORDERER_GENERAL_LISTENADDRESS=127.0.0.1",
		"ORDERER_GENERAL_LISTENPORT=" + port,
		"ORDERER_GENERAL_LOCALMSPID=" + OrdererMSP,
		"ORDERER_GENERAL_LOCALMSPDIR=" + filepath.Join(node, "msp"),
		"ORDERER_GENERAL_TLS_ENABLED=true",
		"ORDERER_GENERAL_TLS_PRIVATEKEY=" + filepath.Join(node, "tls", "server.key"),
		"ORDERER_GENERAL_TLS_CERTIFICATE=" + filepath.Join(node, "tls", "server.crt"),
		"ORDERER_GENERAL_TLS_ROOTCAS=[" + tlsCA + "]",
		"ORDERER_GENERAL_CLUSTER_CLIENTCERTIFICATE=" + filepath.Join(node, "tls", "server.crt"),
		"ORDERER_GENERAL_CLUSTER_CLIENTPRIVATEKEY=" + filepath.Join(node, "tls", "server.key"),
		"ORDERER_GENERAL_CLUSTER_ROOTCAS=[" + tlsCA + "]",
		"ORDERER_GENERAL_BOOTSTRAPMETHOD=none",
		"ORDERER_CHANNELPARTICIPATION_ENABLED=true",
		"ORDERER_ADMIN_LISTENADDRESS=" + n.OrdererAdmin,
		"ORDERER_ADMIN_TLS_ENABLED=true",
		"ORDERER_ADMIN_TLS_PRIVATEKEY=" + filepath.Join(node, "tls", "server.key"),
		"ORDERER_ADMIN_TLS_CERTIFICATE=" + filepath.Join(node, "tls", "server.crt"),
		"ORDERER_ADMIN_TLS_ROOTCAS=[" + tlsCA + "]",
		"ORDERER_ADMIN_TLS_CLIENTAUTHREQUIRED=true",
		"ORDERER_ADMIN_TLS_CLIENTROOTCAS=[" + tlsCA + "]",
		"ORDERER_OPERATIONS_LISTENADDRESS=" + n.OrdererOps,
		"ORDERER_METRICS_PROVIDER=disabled",
		"ORDERER_FILELEDGER_LOCATION=" + n.path("orderer", "ledger"),
		"ORDERER_CONSENSUS_WALDIR=" + n.path("orderer", "etcdraft", "wal"),
		"ORDERER_CONSENSUS_SNAPDIR=" + n.path("orderer", "etcdraft", "snapshot"),
		"ORDERER_GENERAL_KEEPALIVE_SERVERMININTERVAL=10s",
	}
	if err := n.start("orderer", filepath.Join(n.FabricBin, "orderer"), nil, env); err != nil {
		return err
	}
	return n.waitHealthy(ctx, "orderer", n.OrdererOps)
}

// joinOrderer joins the orderer to the channel through its channel
// participation API.
func (n *Network) joinOrderer(ctx context.Context) error {
	tlsCA := n.TLSRootCert(OrdererMSP)
	admin := n.nodeDir(OrdererMSP, "Admin")
	if _, err := n.run(ctx, "osnadmin", nil, "channel", "join", "--channelID", ChannelID, "--config-block", n.path("genesis.block"),
		"-o", n.OrdererAdmin, "--ca-file", tlsCA, "--client-cert", filepath.Join(admin, "tls", "server.crt"), "--client-key", filepath.Join(admin, "tls", "server.key")); err != nil {
		return err
	}
	n.logf("orderer %s joined channel %s", n.OrdererAddr, ChannelID)
	return nil
}

// peerEnv is the environment of an organisation's admin CLI against its peer.
func (n *Network) peerEnv(msp string) []string {
	return []string{
		"FABRIC_CFG_PATH=" + n.path("peers", msp, "config"),
		"CORE_PEER_LOCALMSPID=" + msp,
		"CORE_PEER_MSPCONFIGPATH=" + filepath.Join(n.nodeDir(msp, "Admin"), "msp"),
		"CORE_PEER_ADDRESS=" + n.peerAddr(msp),
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_TLS_ROOTCERT_FILE=" + n.TLSRootCert(msp),
	}
}

// peerNodeEnv is the environment of an organisation's peer process.
func (n *Network) peerNodeEnv(msp string) []string {
	node := n.nodeDir(msp, "peer0")
	base := n.Peers[msp]
	addr := n.peerAddr(msp)
	return []string{
		"FABRIC_CFG_PATH=" + n.path("peers", msp, "config"),
		"FABRIC_LOGGING_SPEC=info:grpc=warning",
		"CORE_PEER_ID=peer0." + strings.ToLower(msp),
		"CORE_PEER_ADDRESS=" + addr,
		"CORE_PEER_LISTENADDRESS=" + addr,
		fmt.Sprintf("CORE_PEER_CHAINCODEADDRESS=127.0.0.1:%d", base+1),
		fmt.Sprintf("CORE_PEER_CHAINCODELISTENADDRESS=127.0.0.1:%d", base+1),
		"CORE_PEER_GOSSIP_BOOTSTRAP=" + addr,
		"CORE_PEER_GOSSIP_EXTERNALENDPOINT=" + addr,
		"CORE_PEER_GOSSIP_RECONNECTINTERVAL=1s",
		"CORE_PEER_GOSSIP_PUBLISHSTATEINFOINTERVAL=500ms",
		"CORE_PEER_GOSSIP_REQUESTSTATEINFOINTERVAL=500ms",
		"CORE_PEER_GOSSIP_ALIVETIMEINTERVAL=1s",
		"CORE_PEER_LOCALMSPID=" + msp,
		"CORE_PEER_MSPCONFIGPATH=" + filepath.Join(node, "msp"),
		"CORE_PEER_TLS_ENABLED=true",
		"CORE_PEER_TLS_CERT_FILE=" + filepath.Join(node, "tls", "server.crt"),
		"CORE_PEER_TLS_KEY_FILE=" + filepath.Join(node, "tls", "server.key"),
		"CORE_PEER_TLS_ROOTCERT_FILE=" + n.TLSRootCert(msp),
		"CORE_PEER_FILESYSTEMPATH=" + n.path("peers", msp, "data"),
		fmt.Sprintf("CORE_OPERATIONS_LISTENADDRESS=127.0.0.1:%d", base+2),
		"CORE_METRICS_PROVIDER=disabled",
		"CORE_LEDGER_STATE_STATEDATABASE=goleveldb",
		"CORE_PEER_GATEWAY_ENABLED=true",
	}
}

func (n *Network) startPeer(ctx context.Context, msp string) error {
	if err := n.start("peer-"+msp, filepath.Join(n.FabricBin, "peer"), []string{"node", "start"}, n.peerNodeEnv(msp)); err != nil {
		return err
	}
	return n.waitHealthy(ctx, "peer-"+msp, fmt.Sprintf("127.0.0.1:%d", n.Peers[msp]+2))
}

func (n *Network) startPeers(ctx context.Context) error {
	for _, msp := range PeerOrgs {
		if err := writeCoreYAML(n.FabricCfg, n.path("peers", msp, "config"), n.path("builder")); err != nil {
			return err
		}
		if err := n.startPeer(ctx, msp); err != nil {
			return err
		}
	}
	return nil
}

// joinPeers joins both peers to the channel.
func (n *Network) joinPeers(ctx context.Context) error {
	for _, msp := range PeerOrgs {
		if err := writeCoreYAML(n.FabricCfg, n.path("peers", msp, "config"), n.path("builder")); err != nil {
			return err
		}
		if err := n.retry(ctx, 20, func() error {
			_, err := n.run(ctx, "peer", n.peerEnv(msp), "channel", "join", "-b", n.path("genesis.block"))
			return err
		}); err != nil {
			return err
		}
		n.logf("peer %s (%s) joined channel %s", n.peerAddr(msp), msp, ChannelID)
	}
	return nil
}

// RestartPeer kills an organisation's peer (SIGKILL, as a crash) and starts
// it again on the same ledger, returning once it is healthy.
func (n *Network) RestartPeer(ctx context.Context, msp string) error {
	raw, err := os.ReadFile(n.path("run", "peer-"+msp+".pid"))
	if err != nil {
		return greenmint.Errorf(greenmint.ENOTFOUND, "no running peer for %s", msp)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(raw)))
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	for i := 0; i < 100; i++ { // the listen port must be free again
		l, err := net.Listen("tcp", n.peerAddr(msp))
		if err == nil {
			l.Close()
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return n.startPeer(ctx, msp)
}

func (n *Network) retry(ctx context.Context, times int, f func() error) error {
	var err error
	for i := 0; i < times; i++ {
		if err = f(); err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(time.Duration(200+100*i) * time.Millisecond):
		}
	}
	return err
}

// Label is the chaincode package's label.
const Label = "greenmint_1"

// packageCCaaS builds a chaincode-as-a-service package for a server at
// address deterministically (fixed times, owners and order), so that its
// package ID, the label and the SHA-256 of the bytes, is the same for the
// same label and address. It returns the file and the package ID.
func (n *Network) packageCCaaS(label, address string) (string, string, error) {
	conn, err := json.Marshal(map[string]any{"address": address, "dial_timeout": "10s", "tls_required": false})
	if err != nil {
		return "", "", err
	}
	code, err := tarGz(map[string][]byte{"connection.json": conn})
	if err != nil {
		return "", "", err
	}
	meta, _ := json.Marshal(map[string]string{"type": "ccaas", "label": label})
	pkg, err := tarGz(map[string][]byte{"metadata.json": meta, "code.tar.gz": code})
	if err != nil {
		return "", "", err
	}
	sum := sha256.Sum256(pkg)
	p := n.path(label + ".tar.gz")
	return p, label + ":" + hex.EncodeToString(sum[:]), os.WriteFile(p, pkg, 0o644)
}

// InstallCCaaS packages and installs on both peers another chaincode served
// at address, and returns its package ID for DeployPackage.
func (n *Network) InstallCCaaS(ctx context.Context, label, address string) (string, error) {
	pkg, id, err := n.packageCCaaS(label, address)
	if err != nil {
		return "", err
	}
	return id, n.install(ctx, pkg)
}

func tarGz(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	// metadata.json first, as Fabric's own packager writes it.
	sortNames(names)
	for _, name := range names {
		hdr := &tar.Header{Name: name, Mode: 0o644, Size: int64(len(files[name])), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
		if _, err := tw.Write(files[name]); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := gz.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func sortNames(names []string) {
	for i := 1; i < len(names); i++ {
		for j := i; j > 0 && names[j] > names[j-1]; j-- {
			names[j], names[j-1] = names[j-1], names[j]
		}
	}
}

func (n *Network) install(ctx context.Context, pkg string) error {
	for _, msp := range PeerOrgs {
		out, err := n.run(ctx, "peer", n.peerEnv(msp), "lifecycle", "chaincode", "install", pkg)
		if err != nil && !strings.Contains(out, "already successfully installed") {
			return err
		}
	}
	n.logf("chaincode package %s installed on both peers", filepath.Base(pkg))
	return nil
}

func (n *Network) ordererFlags() []string {
	return []string{"-o", n.OrdererAddr, "--tls", "--cafile", n.TLSRootCert(OrdererMSP)}
}

// Deploy approves (by both organisations) and commits a chaincode
// definition named name for the installed package: each name is a fresh
// namespace of world state served by the same chaincode server.
func (n *Network) Deploy(ctx context.Context, name string) error {
	return n.DeployPackage(ctx, name, n.PackageID)
}

// DeployPackage is Deploy for another installed package.
func (n *Network) DeployPackage(ctx context.Context, name, packageID string) error {
	seq := n.Sequence[name] + 1
	policy := fmt.Sprintf("AND('%s.peer','%s.peer')", PeerOrgs[0], PeerOrgs[1])
	common := []string{"--channelID", ChannelID, "--name", name, "--version", "1.0", "--sequence", strconv.Itoa(seq), "--signature-policy", policy}
	for _, msp := range PeerOrgs {
		args := append(append([]string{"lifecycle", "chaincode", "approveformyorg", "--package-id", packageID}, common...), n.ordererFlags()...)
		// The first transactions wait for the raft leader; retry them.
		if err := n.retry(ctx, 30, func() error { _, err := n.run(ctx, "peer", n.peerEnv(msp), args...); return err }); err != nil {
			return err
		}
	}
	args := append(append([]string{"lifecycle", "chaincode", "commit"}, common...), n.ordererFlags()...)
	for _, msp := range PeerOrgs {
		args = append(args, "--peerAddresses", n.peerAddr(msp), "--tlsRootCertFiles", n.TLSRootCert(msp))
	}
	if err := n.retry(ctx, 30, func() error { _, err := n.run(ctx, "peer", n.peerEnv(PeerOrgs[0]), args...); return err }); err != nil {
		return err
	}
	n.Sequence[name] = seq
	n.Chaincodes = append(n.Chaincodes, name)
	n.logf("chaincode %s committed (sequence %d)", name, seq)
	return n.save()
}

// Connection describes how ledger/fabric reaches chaincode name on this
// network: through the registry's peer, as the registry's users.
func (n *Network) Connection(name string) fabric.Connection {
	return fabric.Connection{
		PeerEndpoint: n.peerAddr(PeerOrgs[0]), TLSRootCert: n.TLSRootCert(PeerOrgs[0]), ServerName: host(n.peerAddr(PeerOrgs[0])), MSPID: PeerOrgs[0],
		Channel: ChannelID, Chaincode: name, Identities: n.OrgsDir(),
		EventsMSPID: consortium.AuditorMSP, EventsUser: "auditor",
	}
}

// WaitServing returns once a transaction on chaincode name, endorsed by both
// organisations' peers through the gateway, has committed: the chaincode
// server answers and cross-organisation discovery works.
func (n *Network) WaitServing(ctx context.Context, name string) error {
	c, err := consortium.Load(n.OrgsDir())
	if err != nil {
		return err
	}
	id, err := c.Identity(consortium.RegistryMSP, "registrar")
	if err != nil {
		return err
	}
	l, err := fabric.Open(n.Connection(name), nil)
	if err != nil {
		return err
	}
	defer l.Close()
	start := time.Now()
	var last error
	for time.Since(start) < 90*time.Second {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, last = l.Submit(cctx, id, greenmint.QueryListOracles, "{}")
		cancel()
		if last == nil {
			n.logf("chaincode %s serves endorsed transactions (%s after deployment)", name, time.Since(start).Round(time.Millisecond))
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	return greenmint.E(greenmint.EUNAVAILABLE, "", last, "chaincode %s does not serve", name)
}

// ConnectionFile is the path of the connection file that ledger/fabric
// reads for this network.
func (n *Network) ConnectionFile() string { return n.path("connection.json") }
