package deploy

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7/intrinsics"

	"github.com/floedb/floe/lakehouse/config"
	"github.com/floedb/floe/server"
)

// stack is template.yaml as deployed with some parameter values: a small
// evaluator of the intrinsics the template uses (Ref, Fn::Sub, Fn::GetAtt,
// Fn::If, Fn::Equals, Fn::Not, Fn::And, Fn::Or, Condition). Parameters
// resolve to their values; resources, attributes and pseudo parameters
// stay symbolic ("${LiveNodeLoadBalancer.DNSName}", "${AWS::Region}").
type stack struct {
	t      *testing.T
	raw    map[string]any
	params map[string]string
}

// deploy evaluates template.yaml with the given parameter values (the
// others at their defaults).
func deploy(t *testing.T, values map[string]string) *stack {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	js, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	s := &stack{t: t, params: map[string]string{}}
	if err := json.Unmarshal(js, &s.raw); err != nil {
		t.Fatal(err)
	}
	for name, p := range s.mapAt("Parameters") {
		if d, ok := p.(map[string]any)["Default"]; ok {
			s.params[name] = fmt.Sprint(d)
		}
	}
	for k, v := range values {
		if _, ok := s.mapAt("Parameters")[k]; !ok {
			t.Fatalf("template.yaml has no parameter %s", k)
		}
		s.params[k] = v
	}
	return s
}

func (s *stack) mapAt(path ...string) map[string]any {
	var v any = s.raw
	for _, p := range path {
		m, _ := v.(map[string]any)
		v = m[p]
	}
	m, _ := v.(map[string]any)
	return m
}

func (s *stack) cond(name string) bool {
	c, ok := s.mapAt("Conditions")[name]
	if !ok {
		s.t.Fatalf("no condition %s", name)
	}
	b, ok := s.eval(c).(bool)
	if !ok {
		s.t.Fatalf("condition %s is not a boolean", name)
	}
	return b
}

func (s *stack) sub(str string) string {
	for k, v := range s.params {
		str = strings.ReplaceAll(str, "${"+k+"}", v)
	}
	return str
}

func (s *stack) eval(v any) any {
	switch v := v.(type) {
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = s.eval(e)
		}
		return out
	case map[string]any:
		if len(v) == 1 {
			for fn, arg := range v {
				args, _ := arg.([]any)
				switch fn {
				case "Ref":
					name := fmt.Sprint(arg)
					if p, ok := s.params[name]; ok {
						return p
					}
					return "${" + name + "}"
				case "Fn::Sub":
					if str, ok := arg.(string); ok {
						return s.sub(str)
					}
				case "Fn::GetAtt":
					if str, ok := arg.(string); ok {
						return "${" + str + "}"
					}
					return "${" + fmt.Sprint(args[0]) + "." + fmt.Sprint(args[1]) + "}"
				case "Fn::If":
					if s.cond(fmt.Sprint(args[0])) {
						return s.eval(args[1])
					}
					return s.eval(args[2])
				case "Fn::Equals":
					return fmt.Sprint(s.eval(args[0])) == fmt.Sprint(s.eval(args[1]))
				case "Fn::Not":
					return !s.boolOf(args[0])
				case "Fn::And", "Fn::Or":
					all, anyTrue := true, false
					for _, a := range args {
						b := s.boolOf(a)
						all, anyTrue = all && b, anyTrue || b
					}
					return (fn == "Fn::And" && all) || (fn == "Fn::Or" && anyTrue)
				case "Condition":
					return s.cond(fmt.Sprint(arg))
				}
			}
		}
		out := map[string]any{}
		for k, e := range v {
			out[k] = s.eval(e)
		}
		return out
	}
	return v
}

// boolOf evaluates an operand of Fn::Not, Fn::And or Fn::Or. (goformation
// reads the YAML tag "!Condition X" there as the bare string "X".)
func (s *stack) boolOf(v any) bool {
	if name, ok := v.(string); ok {
		return s.cond(name)
	}
	b, ok := s.eval(v).(bool)
	if !ok {
		s.t.Fatalf("%v is not a boolean", v)
	}
	return b
}

// brokenRules returns the descriptions of the template's Rules this
// deployment fails (CloudFormation refuses it).
func (s *stack) brokenRules() []string {
	var out []string
	for _, r := range s.mapAt("Rules") {
		rule := r.(map[string]any)
		if c, ok := rule["RuleCondition"]; ok && !s.boolOf(c) {
			continue
		}
		for _, a := range rule["Assertions"].([]any) {
			a := a.(map[string]any)
			if !s.boolOf(a["Assert"]) {
				out = append(out, fmt.Sprint(a["AssertDescription"]))
			}
		}
	}
	return out
}

// resource returns the evaluated properties of resource id, or nil if
// its condition leaves it out of this deployment.
func (s *stack) resource(id string) map[string]any {
	r, ok := s.mapAt("Resources")[id].(map[string]any)
	if !ok {
		s.t.Fatalf("no resource %s", id)
	}
	if c, ok := r["Condition"]; ok && !s.cond(fmt.Sprint(c)) {
		return nil
	}
	props, _ := s.eval(r["Properties"]).(map[string]any)
	return props
}

// resourcesOfType returns the ids of the resources of type typ this
// deployment has.
func (s *stack) resourcesOfType(typ string) []string {
	var out []string
	for id, r := range s.mapAt("Resources") {
		if r.(map[string]any)["Type"] == typ && s.resource(id) != nil {
			out = append(out, id)
		}
	}
	return out
}

// functionEnv returns the environment of a serverless function.
func (s *stack) functionEnv(id string) map[string]string {
	env := map[string]string{}
	props := s.resource(id)
	e, _ := props["Environment"].(map[string]any)
	vars, _ := e["Variables"].(map[string]any)
	for k, v := range vars {
		env[k] = fmt.Sprint(v)
	}
	return env
}

// liveContainer returns the live node's container definition, or nil
// when the deployment has none.
func (s *stack) liveContainer() (env map[string]string, port string) {
	td := s.resource("LiveNodeTaskDefinition")
	if td == nil {
		return nil, ""
	}
	defs := td["ContainerDefinitions"].([]any)
	if len(defs) != 1 {
		s.t.Fatalf("live node task: %d containers, want 1", len(defs))
	}
	c := defs[0].(map[string]any)
	env = map[string]string{}
	for _, kv := range c["Environment"].([]any) {
		kv := kv.(map[string]any)
		env[fmt.Sprint(kv["Name"])] = fmt.Sprint(kv["Value"])
	}
	pm := c["PortMappings"].([]any)
	return env, fmt.Sprint(pm[0].(map[string]any)["ContainerPort"])
}

// Deployments of the live node the tests go through.
var liveNodeDeployments = map[string]map[string]string{
	"no live node":       {},
	"external live node": {"LiveNodeUrl": "https://live.internal.example:7878"},
	"live node over HTTP": {"LiveNodeImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/floe:live",
		"LiveNodeVpcId": "vpc-1", "LiveNodeSubnetIds": "subnet-a,subnet-b"},
	"live node over HTTPS": {"LiveNodeImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/floe:live",
		"LiveNodeVpcId": "vpc-1", "LiveNodeSubnetIds": "subnet-a,subnet-b",
		"LiveNodeCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc", "LiveNodeDomainName": "live.example.com"},
}

// lbDNSName stands for the load balancer's DNS name in configurations.
const lbDNSName = "floe-live-1234.us-east-1.elb.amazonaws.com"

// The query function publishes to the live node the stack runs, at a URL
// whose scheme, port and host a listener of its load balancer answers
// (HTTPS at the certificate's host name when there is a certificate), or
// to the LiveNodeUrl parameter without one; the value is a valid
// configuration of a publishing function, and the LiveNodeUrl output says
// the same.
func TestTemplateQueryFunctionPublishesToTheLiveNode(t *testing.T) {
	for name, values := range liveNodeDeployments {
		t.Run(name, func(t *testing.T) {
			s := deploy(t, map[string]string{"JwtSecret": strings.Repeat("s", 32)})
			for k, v := range values {
				s.params[k] = v
			}
			if broken := s.brokenRules(); len(broken) != 0 {
				t.Fatalf("the deployment breaks rules: %v", broken)
			}
			nodes := s.functionEnv("QueryFunction")["FLOE_LIVE_NODES"]
			liveEnv, _ := s.liveContainer()
			if liveEnv == nil {
				if nodes != s.params["LiveNodeUrl"] {
					t.Fatalf("FLOE_LIVE_NODES=%q, want the LiveNodeUrl parameter %q", nodes, s.params["LiveNodeUrl"])
				}
			} else {
				checkListenerFor(t, s, nodes)
				out, ok := s.mapAt("Outputs", "LiveNodeUrl")["Value"]
				if !ok || s.eval(out) != nodes {
					t.Errorf("output LiveNodeUrl %v, want %q as the functions use", s.eval(out), nodes)
				}
			}
			cfg, err := config.Load("", []string{"FLOE_ROLE=function", "FLOE_AUTH_JWT_SECRET=" + strings.Repeat("s", 32),
				"FLOE_LIVE_NODES=" + strings.ReplaceAll(nodes, "${LiveNodeLoadBalancer.DNSName}", lbDNSName)})
			if err == nil {
				err = cfg.Validate()
			}
			if err != nil {
				t.Fatalf("FLOE_LIVE_NODES=%q: %v", nodes, err)
			}
			if cfg.Publishes() != (nodes != "") {
				t.Errorf("FLOE_LIVE_NODES=%q: the function publishes: %v", nodes, cfg.Publishes())
			}
		})
	}
	// A certificate without the host name it is for cannot be deployed:
	// the functions would call the load balancer's own name over TLS,
	// which the certificate does not cover.
	s := deploy(t, liveNodeDeployments["live node over HTTPS"])
	s.params["JwtSecret"] = strings.Repeat("s", 32)
	s.params["LiveNodeDomainName"] = ""
	if len(s.brokenRules()) == 0 {
		t.Error("LiveNodeCertificateArn without LiveNodeDomainName passes the template's rules")
	}
}

// checkListenerFor fails unless a listener of the live node's load
// balancer answers base URL u and forwards to the live node's target
// group.
func checkListenerFor(t *testing.T, s *stack, u string) {
	t.Helper()
	p, err := url.Parse(strings.ReplaceAll(u, "${LiveNodeLoadBalancer.DNSName}", lbDNSName))
	if err != nil || p.Path != "" && p.Path != "/" {
		t.Fatalf("FLOE_LIVE_NODES=%q is not a base URL: %v", u, err)
	}
	port := p.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[p.Scheme]
	}
	tls := s.cond("HasLiveNodeTls")
	if tls && p.Scheme != "https" {
		t.Errorf("FLOE_LIVE_NODES=%q: the stack has a certificate, so functions must publish over HTTPS", u)
	}
	wantHost := lbDNSName
	if p.Scheme == "https" {
		// The certificate is for LiveNodeDomainName, not the load
		// balancer's own name.
		wantHost = s.params["LiveNodeDomainName"]
	}
	if p.Hostname() != wantHost {
		t.Errorf("FLOE_LIVE_NODES=%q: host %q, want %q", u, p.Hostname(), wantHost)
	}
	found := false
	for _, id := range s.resourcesOfType("AWS::ElasticLoadBalancingV2::Listener") {
		l := s.resource(id)
		if l["LoadBalancerArn"] != "${LiveNodeLoadBalancer}" || fmt.Sprint(l["Port"]) != port || l["Protocol"] != strings.ToUpper(p.Scheme) {
			continue
		}
		found = true
		if p.Scheme == "https" {
			certs, _ := l["Certificates"].([]any)
			if len(certs) != 1 || certs[0].(map[string]any)["CertificateArn"] != s.params["LiveNodeCertificateArn"] {
				t.Errorf("%s: certificates %v, want LiveNodeCertificateArn", id, certs)
			}
		}
		acts, _ := l["DefaultActions"].([]any)
		if len(acts) != 1 || acts[0].(map[string]any)["TargetGroupArn"] != "${LiveNodeTargetGroup}" {
			t.Errorf("%s: actions %v, want a forward to LiveNodeTargetGroup", id, acts)
		}
	}
	if !found {
		t.Errorf("FLOE_LIVE_NODES=%q: no %s listener on port %s of LiveNodeLoadBalancer", u, strings.ToUpper(p.Scheme), port)
	}
}

// The live node verifies the functions' publishes with a key derived from
// the JWT secret (server/livebus) and verifies their tokens with it: its
// container must get the secret from the same source as every function,
// whether a parameter or Secrets Manager; and it must listen on the same
// bus the functions publish on.
func TestTemplateLiveNodeSharesSecretAndBus(t *testing.T) {
	image := liveNodeDeployments["live node over HTTP"]
	for name, secret := range map[string]map[string]string{
		"parameter":       {"JwtSecret": strings.Repeat("p", 32)},
		"secrets manager": {"JwtSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:floe-jwt"},
	} {
		t.Run(name, func(t *testing.T) {
			s := deploy(t, image)
			for k, v := range secret {
				s.params[k] = v
			}
			liveEnv, _ := s.liveContainer()
			if liveEnv == nil {
				t.Fatal("no live node")
			}
			want := liveEnv["FLOE_AUTH_JWT_SECRET"]
			if want == "" {
				t.Fatal("the live node has no FLOE_AUTH_JWT_SECRET")
			}
			if arn := secret["JwtSecretArn"]; arn != "" && !strings.Contains(want, "{{resolve:secretsmanager:"+arn+":SecretString}}") {
				t.Errorf("live node FLOE_AUTH_JWT_SECRET=%q, want the Secrets Manager secret %s", want, arn)
			} else if p := secret["JwtSecret"]; p != "" && want != p {
				t.Errorf("live node FLOE_AUTH_JWT_SECRET=%q, want the JwtSecret parameter", want)
			}
			bus := func(env map[string]string) string {
				if b, ok := env["FLOE_LIVE_BUS"]; ok {
					return b
				}
				return config.Default().Live.Bus
			}
			for _, id := range s.resourcesOfType("AWS::Serverless::Function") {
				env := s.functionEnv(id)
				if got := env["FLOE_AUTH_JWT_SECRET"]; got != want {
					t.Errorf("%s: FLOE_AUTH_JWT_SECRET=%q, the live node's is %q: publishes and tokens would not verify", id, got, want)
				}
				if env["FLOE_LIVE_NODES"] == "" {
					continue
				}
				if bus(env) != config.BusConnect || bus(liveEnv) != bus(env) {
					t.Errorf("%s publishes to FLOE_LIVE_NODES on bus %q, the live node listens on bus %q; both must be %q",
						id, bus(env), bus(liveEnv), config.BusConnect)
				}
			}
		})
	}
}

// The load balancer checks the live node's health with a GET the server
// answers (server.HealthPath: 200 while serving, 503 otherwise), on the
// port the container listens on, over HTTP/1.1, and takes only a 200 as
// healthy.
func TestTemplateLiveNodeHealthCheck(t *testing.T) {
	s := deploy(t, liveNodeDeployments["live node over HTTP"])
	env, containerPort := s.liveContainer()
	_, listenPort, err := net.SplitHostPort(env["FLOE_SERVER_LISTEN"])
	if err != nil || listenPort != containerPort {
		t.Fatalf("FLOE_SERVER_LISTEN=%q, container port %s: want the same port", env["FLOE_SERVER_LISTEN"], containerPort)
	}
	svc := s.resource("LiveNodeService")
	lbs := svc["LoadBalancers"].([]any)
	if len(lbs) != 1 {
		t.Fatalf("LiveNodeService load balancers %v, want 1", lbs)
	}
	lb := lbs[0].(map[string]any)
	if fmt.Sprint(lb["ContainerPort"]) != containerPort || lb["TargetGroupArn"] != "${LiveNodeTargetGroup}" {
		t.Errorf("LiveNodeService registers port %v in %v, want %s in LiveNodeTargetGroup", lb["ContainerPort"], lb["TargetGroupArn"], containerPort)
	}
	tg := s.resource("LiveNodeTargetGroup")
	if fmt.Sprint(tg["Port"]) != containerPort || tg["Protocol"] != "HTTP" {
		t.Errorf("target group %v port %v, want HTTP to port %s", tg["Protocol"], tg["Port"], containerPort)
	}
	// gRPC target groups cannot take the Connect (HTTP/1.1) calls of
	// functions and browsers, and need an HTTPS listener.
	if v, ok := tg["ProtocolVersion"]; ok && v != "HTTP1" {
		t.Errorf("target group protocol version %v, want HTTP1", v)
	}
	if v, ok := tg["HealthCheckProtocol"]; ok && v != "HTTP" {
		t.Errorf("health check protocol %v, want HTTP", v)
	}
	if v, ok := tg["HealthCheckPort"]; ok && v != "traffic-port" && fmt.Sprint(v) != containerPort {
		t.Errorf("health check port %v, want the traffic port %s", v, containerPort)
	}
	if tg["HealthCheckPath"] != server.HealthPath {
		t.Errorf("HealthCheckPath %v, want server.HealthPath %q (the GET health check the server answers)", tg["HealthCheckPath"], server.HealthPath)
	}
	m, _ := tg["Matcher"].(map[string]any)
	codes := fmt.Sprint(m["HttpCode"])
	if !matches(codes, 200) || matches(codes, 503) || matches(codes, 404) {
		t.Errorf("Matcher HttpCode %q: want 200 healthy, and 503 (not serving) and 404 (no such path) unhealthy", codes)
	}
}

// matches reports whether ALB matcher codes ("200", "200,204",
// "200-299") take code.
func matches(codes string, code int) bool {
	for _, part := range strings.Split(codes, ",") {
		lo, hi, isRange := strings.Cut(strings.TrimSpace(part), "-")
		if !isRange {
			hi = lo
		}
		l, err1 := strconv.Atoi(lo)
		h, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && l <= code && code <= h {
			return true
		}
	}
	return false
}
