package deploy

import (
	"encoding/json"
	"fmt"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/awslabs/goformation/v7"
	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
	"github.com/awslabs/goformation/v7/schema"
	"github.com/xeipuuv/gojsonschema"

	"github.com/floedb/floe/lakehouse/config"
)

// repoRoot is the repository root, where template.yaml, the Makefile and
// functions/ are.
const repoRoot = ".."

// The resources every IAM statement must be limited to, as the template
// spells them (intrinsics rendered symbolically, see openTemplate).
const (
	bucketResource  = "WarehouseBucket"
	prefixParameter = "WarehousePrefix"
	objectARN       = "arn:${AWS::Partition}:s3:::${" + bucketResource + "}/${" + prefixParameter + "}/*"
	bucketARN       = "arn:${AWS::Partition}:s3:::${" + bucketResource + "}"
	listPrefix      = "${" + prefixParameter + "}/*"
)

// openTemplate parses template.yaml with goformation. Intrinsic functions
// are rendered symbolically rather than evaluated, so that the checks see
// what the template refers to: Ref X is "${X}" (the parameter's default for
// a Number parameter, ["${X}"] for a list), Fn::Sub keeps its ${...}
// references, Fn::GetAtt A.B is "${A.B}", Fn::If takes its first branch.
func openTemplate(t *testing.T) (*cloudformation.Template, map[string]any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot, "template.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	// The template as JSON, intrinsics unprocessed: the parameters' types
	// and the conditions.
	js, err := intrinsics.ProcessYAML(data, &intrinsics.ProcessorOptions{NoProcess: true})
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	var plain struct {
		Parameters map[string]struct {
			Type    string
			Default any
		}
		Conditions map[string]any
	}
	if err := json.Unmarshal(js, &plain); err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	numbers, lists := map[string]any{}, map[string]bool{}
	for name, p := range plain.Parameters {
		switch {
		case p.Type == "Number":
			numbers[name] = p.Default
		case p.Type == "CommaDelimitedList" || strings.HasPrefix(p.Type, "List<"):
			lists[name] = true
		}
	}
	ref := func(_ string, input any, _ any) any {
		name, ok := input.(string)
		if !ok {
			return nil
		}
		if d, ok := numbers[name]; ok {
			return d
		}
		if lists[name] {
			return []any{"${" + name + "}"}
		}
		return "${" + name + "}"
	}
	sub := func(_ string, input any, _ any) any {
		switch v := input.(type) {
		case string:
			return v
		case []any:
			s, _ := v[0].(string)
			if len(v) > 1 {
				vars, _ := v[1].(map[string]any)
				for k, val := range vars {
					s = strings.ReplaceAll(s, "${"+k+"}", fmt.Sprint(val))
				}
			}
			return s
		}
		return nil
	}
	getAtt := func(_ string, input any, _ any) any {
		switch v := input.(type) {
		case string:
			return "${" + v + "}"
		case []any:
			parts := make([]string, len(v))
			for i, p := range v {
				parts[i] = fmt.Sprint(p)
			}
			return "${" + strings.Join(parts, ".") + "}"
		}
		return nil
	}
	ifFirst := func(_ string, input any, _ any) any {
		if v, ok := input.([]any); ok && len(v) == 3 {
			return v[1]
		}
		return nil
	}
	tmpl, err := goformation.ParseYAMLWithOptions(data, &intrinsics.ProcessorOptions{
		IntrinsicHandlerOverrides: map[string]intrinsics.IntrinsicHandler{
			"Ref": ref, "Fn::Sub": sub, "Fn::GetAtt": getAtt, "Fn::If": ifFirst,
		},
	})
	if err != nil {
		t.Fatalf("template.yaml: %v", err)
	}
	return tmpl, plain.Conditions
}

// functionDirs returns the main packages under functions/: the Lambda
// functions of the repository.
func functionDirs(t *testing.T) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(repoRoot, "functions"))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if isMainPackage(t, filepath.Join(repoRoot, "functions", e.Name())) {
			out = append(out, e.Name())
		}
	}
	return out
}

func isMainPackage(t *testing.T, dir string) bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.PackageClauseOnly)
		if err != nil {
			t.Fatal(err)
		}
		if af.Name.Name == "main" {
			return true
		}
	}
	return false
}

// getenvName matches an environment variable a function reads itself.
var getenvName = regexp.MustCompile(`os\.(?:Getenv|LookupEnv)\("(FLOE_[A-Z0-9_]+)"\)`)

// envNamesRead returns the environment variables the code of function fn
// reads: every setting of lakehouse/config (FLOE_<KEY>) and the FLOE_*
// variables its own package reads with os.Getenv or os.LookupEnv.
func envNamesRead(t *testing.T, fn string) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, k := range config.Keys() {
		names[k[1]] = true
	}
	if fn == "" {
		return names
	}
	files, _ := filepath.Glob(filepath.Join(repoRoot, "functions", fn, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range getenvName.FindAllSubmatch(src, -1) {
			names[string(m[1])] = true
		}
	}
	return names
}

// functionName maps a template function (QueryFunction) to its folder
// under functions/ (query).
func functionName(logicalID string) string {
	return strings.ToLower(strings.TrimSuffix(logicalID, "Function"))
}

func TestTemplateFunctionsMatchTheBuild(t *testing.T) {
	tmpl, _ := openTemplate(t)
	fns := tmpl.GetAllServerlessFunctionResources()
	var inTemplate []string
	for id, f := range fns {
		name := functionName(id)
		inTemplate = append(inTemplate, name)
		if f.CodeUri == nil || f.CodeUri.String == nil {
			t.Errorf("%s: CodeUri is not a local path", id)
			continue
		}
		if got, want := filepath.ToSlash(filepath.Clean(*f.CodeUri.String)), LambdaBuildDir(name); got != want {
			t.Errorf("%s: CodeUri %q, want %q (where make build-lambda builds functions/%s)", id, got, want, name)
		}
		if f.Handler == nil || *f.Handler != LambdaHandler {
			t.Errorf("%s: Handler %v, want %q", id, f.Handler, LambdaHandler)
		}
		if f.Runtime == nil || *f.Runtime != LambdaRuntime {
			t.Errorf("%s: Runtime %v, want %q", id, f.Runtime, LambdaRuntime)
		}
		if !slices.Equal(f.Architectures, []string{"${Architecture}"}) {
			t.Errorf("%s: Architectures %v, want the Architecture parameter", id, f.Architectures)
		}
		dir := filepath.Join(repoRoot, "functions", name)
		if !isMainPackage(t, dir) {
			t.Errorf("%s: functions/%s is not a main package: nothing builds %s", id, name, LambdaBinary(name))
		}
		// The binary itself exists only after make build-lambda.
		if fi, err := os.Stat(filepath.Join(repoRoot, LambdaBinary(name))); err == nil {
			if fi.Mode()&0o111 == 0 {
				t.Errorf("%s: %s is not executable", id, LambdaBinary(name))
			}
		} else {
			t.Logf("%s: %s not built (run make build-lambda)", id, LambdaBinary(name))
		}
	}
	sort.Strings(inTemplate)
	if dirs := functionDirs(t); !slices.Equal(inTemplate, dirs) {
		t.Errorf("template functions %v, main packages under functions/ %v: every function must be deployed", inTemplate, dirs)
	}
	arch := tmpl.Parameters["Architecture"]
	if got := fmt.Sprint(arch.AllowedValues); got != "[x86_64 arm64]" {
		t.Errorf("Architecture allows %s, want [x86_64 arm64]", got)
	}

	// make build-lambda, once the Makefile has it, must build every
	// function of the template (LAMBDA_FUNCTIONS) into build/lambda/.
	mk, err := os.ReadFile(filepath.Join(repoRoot, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LAMBDA_FUNCTIONS\s*:?=\s*(.*)$`).FindSubmatch(mk)
	if m == nil {
		t.Logf("the Makefile has no LAMBDA_FUNCTIONS (make build-lambda not there yet?)")
		return
	}
	built := strings.Fields(string(m[1]))
	sort.Strings(built)
	if !slices.Equal(built, inTemplate) {
		t.Errorf("make build-lambda builds %v, the template deploys %v", built, inTemplate)
	}
	out, err := exec.Command("make", "-C", repoRoot, "-n", "build-lambda").CombinedOutput()
	if err != nil {
		t.Fatalf("make -n build-lambda: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "build/lambda/") || !strings.Contains(string(out), "/"+LambdaHandler) {
		t.Errorf("make -n build-lambda does not build build/lambda/<function>/%s:\n%s", LambdaHandler, out)
	}
}

func TestTemplateEnvironmentIsReadByTheCode(t *testing.T) {
	tmpl, _ := openTemplate(t)
	required := []string{"FLOE_STORAGE_BACKEND", "FLOE_STORAGE_S3_BUCKET", "FLOE_STORAGE_S3_PREFIX", "FLOE_AUTH_JWT_SECRET"}
	check := func(where string, env map[string]string, read map[string]bool) {
		for name := range env {
			if !read[name] {
				t.Errorf("%s sets %s, which no code reads (a typo, or a setting that was renamed?)", where, name)
			}
		}
		for _, name := range required {
			if _, ok := env[name]; !ok {
				t.Errorf("%s does not set %s", where, name)
			}
		}
		// The values parse and validate as the code's configuration:
		// literals as they are, parameters at their defaults, other
		// references (the bucket, secrets) as valid stand-ins.
		var environ []string
		for name, v := range env {
			switch {
			case !strings.Contains(v, "${"):
			case v == "${"+bucketResource+"}":
				v = "floe-warehouse"
			case strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}") && tmpl.Parameters[v[2:len(v)-1]].Default != nil:
				v = fmt.Sprint(tmpl.Parameters[v[2:len(v)-1]].Default)
			default:
				continue
			}
			environ = append(environ, name+"="+v)
		}
		cfg, err := config.Load("", append(environ, "FLOE_AUTH_JWT_SECRET=0123456789abcdef0123456789abcdef"))
		if err == nil {
			err = cfg.Validate()
		}
		if err != nil {
			t.Errorf("%s: the environment does not make a valid configuration: %v", where, err)
		}
		if env["FLOE_STORAGE_BACKEND"] != "s3" {
			t.Errorf("%s: FLOE_STORAGE_BACKEND=%q, want s3", where, env["FLOE_STORAGE_BACKEND"])
		}
		if env["FLOE_STORAGE_S3_BUCKET"] != "${"+bucketResource+"}" || env["FLOE_STORAGE_S3_PREFIX"] != "${"+prefixParameter+"}" {
			t.Errorf("%s: bucket %q prefix %q, want the warehouse bucket and prefix the IAM policies allow",
				where, env["FLOE_STORAGE_S3_BUCKET"], env["FLOE_STORAGE_S3_PREFIX"])
		}
	}
	for id, f := range tmpl.GetAllServerlessFunctionResources() {
		if f.Environment == nil {
			t.Errorf("%s has no environment", id)
			continue
		}
		check(id, f.Environment.Variables, envNamesRead(t, functionName(id)))
	}
	tds := tmpl.GetAllECSTaskDefinitionResources()
	if len(tds) == 0 {
		t.Error("no ECS task definition for the live node")
	}
	for id, td := range tds {
		for _, c := range td.ContainerDefinitions {
			env := map[string]string{}
			for _, kv := range c.Environment {
				env[*kv.Name] = *kv.Value
			}
			check(id+"/"+c.Name, env, envNamesRead(t, ""))
			if env["FLOE_ROLE"] != config.RoleLive {
				t.Errorf("%s: FLOE_ROLE=%q, want %q", id, env["FLOE_ROLE"], config.RoleLive)
			}
		}
	}
}

// statements returns the IAM statements of a policy document as decoded
// from the template.
func statements(t *testing.T, where string, doc any) []map[string]any {
	t.Helper()
	m, ok := doc.(map[string]any)
	if !ok {
		t.Fatalf("%s: policy document is %T", where, doc)
	}
	var out []map[string]any
	list, _ := m["Statement"].([]any)
	for _, s := range list {
		st, ok := s.(map[string]any)
		if !ok {
			t.Fatalf("%s: statement is %T", where, s)
		}
		out = append(out, st)
	}
	return out
}

func stringsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			out = append(out, fmt.Sprint(e))
		}
		return out
	}
	return []string{fmt.Sprint(v)}
}

// checkStatement fails unless st allows only object reads/writes under the
// warehouse prefix, or listing the bucket under that prefix.
func checkStatement(t *testing.T, where string, st map[string]any) {
	t.Helper()
	if st["Effect"] != "Allow" {
		return // a Deny only narrows
	}
	if _, ok := st["NotAction"]; ok {
		t.Errorf("%s: NotAction grants everything else", where)
	}
	if _, ok := st["NotResource"]; ok {
		t.Errorf("%s: NotResource grants everything else", where)
	}
	actions := stringsOf(st["Action"])
	resources := stringsOf(st["Resource"])
	objectActions := map[string]bool{"s3:GetObject": true, "s3:PutObject": true, "s3:DeleteObject": true}
	for _, a := range actions {
		switch {
		case objectActions[a]:
			if !slices.Equal(resources, []string{objectARN}) {
				t.Errorf("%s: %s on %v, want only %s", where, a, resources, objectARN)
			}
		case a == "s3:ListBucket":
			if !slices.Equal(resources, []string{bucketARN}) {
				t.Errorf("%s: %s on %v, want only %s", where, a, resources, bucketARN)
			}
			cond, _ := st["Condition"].(map[string]any)
			like, _ := cond["StringLike"].(map[string]any)
			if len(cond) != 1 || len(like) != 1 || !slices.Equal(stringsOf(like["s3:prefix"]), []string{listPrefix}) {
				t.Errorf("%s: s3:ListBucket with condition %v, want exactly StringLike s3:prefix %q", where, st["Condition"], listPrefix)
			}
		default:
			t.Errorf("%s: action %q: the policy may only read, write, delete and list warehouse objects", where, a)
		}
	}
}

func TestTemplateIAMIsLimitedToTheWarehouse(t *testing.T) {
	tmpl, _ := openTemplate(t)
	// The prefix the policies are built from must be a real prefix: not
	// empty, no wildcard, no leading or trailing '/'.
	p := tmpl.Parameters[prefixParameter]
	if p.AllowedPattern == nil {
		t.Fatalf("%s has no AllowedPattern", prefixParameter)
	}
	re := regexp.MustCompile(*p.AllowedPattern)
	for _, bad := range []string{"", "*", "a*", "/a", "a/", "a//b", "a/../b"} {
		if re.MatchString(bad) && bad != "a/../b" {
			t.Errorf("%s accepts %q", prefixParameter, bad)
		}
	}
	if !re.MatchString(fmt.Sprint(p.Default)) || !re.MatchString("tenants/acme") {
		t.Errorf("%s rejects its default %v or tenants/acme", prefixParameter, p.Default)
	}
	if _, err := tmpl.GetS3BucketWithName(bucketResource); err != nil {
		t.Fatalf("%s: %v", bucketResource, err)
	}

	for id, f := range tmpl.GetAllServerlessFunctionResources() {
		if f.Role != nil {
			t.Errorf("%s: uses role %s instead of its own policies", id, *f.Role)
		}
		if f.Policies == nil || f.Policies.IAMPolicyDocumentArray == nil {
			t.Errorf("%s: Policies must be a list of inline policy documents (no managed policies, no SAM policy templates)", id)
			continue
		}
		n := 0
		for i, doc := range *f.Policies.IAMPolicyDocumentArray {
			for j, s := range doc.Statement {
				st, ok := s.(map[string]any)
				if !ok {
					t.Fatalf("%s: statement is %T", id, s)
				}
				checkStatement(t, fmt.Sprintf("%s policy %d statement %d", id, i, j), st)
				n++
			}
		}
		if n == 0 {
			t.Errorf("%s has no statements: it cannot reach the warehouse", id)
		}
	}
	for id, r := range tmpl.GetAllIAMRoleResources() {
		for _, arn := range r.ManagedPolicyArns {
			if !strings.HasSuffix(arn, ":iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy") {
				t.Errorf("%s: managed policy %s", id, arn)
			}
		}
		for _, pol := range r.Policies {
			for j, st := range statements(t, id, pol.PolicyDocument) {
				checkStatement(t, fmt.Sprintf("%s policy %s statement %d", id, pol.PolicyName, j), st)
			}
		}
	}
	if n := len(tmpl.GetAllIAMPolicyResources()) + len(tmpl.GetAllIAMManagedPolicyResources()); n != 0 {
		t.Errorf("%d stand-alone IAM policies: keep them on the roles, where this test checks them", n)
	}
}

func TestTemplateFunctionURLScheduleAndLogs(t *testing.T) {
	tmpl, conds := openTemplate(t)
	fns := tmpl.GetAllServerlessFunctionResources()
	q, ok := fns["QueryFunction"]
	if !ok {
		t.Fatal("no QueryFunction")
	}
	if q.FunctionUrlConfig == nil {
		t.Fatal("QueryFunction has no Function URL")
	}
	// Floe authenticates calls itself; the adapter answers buffered
	// (functions/query: no streaming through the Function URL).
	if q.FunctionUrlConfig.AuthType != "NONE" || q.FunctionUrlConfig.InvokeMode == nil || *q.FunctionUrlConfig.InvokeMode != "BUFFERED" {
		t.Errorf("Function URL auth %q mode %v, want NONE and BUFFERED", q.FunctionUrlConfig.AuthType, q.FunctionUrlConfig.InvokeMode)
	}
	if _, ok := tmpl.Outputs["QueryFunctionUrl"]; !ok {
		t.Error("no QueryFunctionUrl output")
	}

	m, ok := fns["MaintenanceFunction"]
	if !ok {
		t.Fatal("no MaintenanceFunction")
	}
	schedules := 0
	for name, ev := range m.Events {
		if ev.Type != "Schedule" || ev.Properties == nil || ev.Properties.ScheduleEvent == nil {
			t.Errorf("MaintenanceFunction event %s is %s, want only a Schedule", name, ev.Type)
			continue
		}
		schedules++
		se := ev.Properties.ScheduleEvent
		if se.Schedule != "${MaintenanceSchedule}" || (se.Enabled != nil && !*se.Enabled) {
			t.Errorf("schedule %s: %q enabled %v, want the MaintenanceSchedule parameter, enabled", name, se.Schedule, se.Enabled)
		}
	}
	if schedules != 1 {
		t.Errorf("MaintenanceFunction has %d schedules, want 1", schedules)
	}
	if d := fmt.Sprint(tmpl.Parameters["MaintenanceSchedule"].Default); !strings.HasPrefix(d, "rate(") && !strings.HasPrefix(d, "cron(") {
		t.Errorf("MaintenanceSchedule default %q is not a schedule expression", d)
	}
	for id, f := range fns {
		if id != "MaintenanceFunction" && len(f.Events) != 0 {
			t.Errorf("%s has events %v; only the maintenance function is scheduled", id, f.Events)
		}
	}

	// A log group with a retention per function, and for the live node.
	logGroups := map[string]int{}
	for id, lg := range tmpl.GetAllLogsLogGroupResources() {
		if lg.RetentionInDays == nil || *lg.RetentionInDays <= 0 {
			t.Errorf("log group %s keeps logs forever", id)
		}
		if lg.LogGroupName != nil {
			logGroups[*lg.LogGroupName]++
		}
	}
	for id := range fns {
		if logGroups["/aws/lambda/${"+id+"}"] != 1 {
			t.Errorf("%s has no log group /aws/lambda/${%s} with a retention", id, id)
		}
	}

	// The live node is optional: everything of it hangs on HasLiveNode,
	// which is "LiveNodeImageUri is not empty".
	if c := fmt.Sprint(conds["HasLiveNode"]); !strings.Contains(c, "LiveNodeImageUri") {
		t.Errorf("HasLiveNode is %s, want a test of LiveNodeImageUri", c)
	}
	live := 0
	for id, r := range tmpl.Resources {
		typ := r.AWSCloudFormationType()
		if !strings.HasPrefix(typ, "AWS::ECS::") && !strings.HasPrefix(typ, "AWS::ElasticLoadBalancingV2::") &&
			typ != "AWS::EC2::SecurityGroup" && typ != "AWS::IAM::Role" && !strings.HasPrefix(id, "LiveNode") {
			continue
		}
		live++
		// HasLiveNode, or a condition that requires it.
		if cond := conditionOf(r); cond != "HasLiveNode" && !strings.Contains(fmt.Sprint(conds[cond]), "HasLiveNode") {
			t.Errorf("%s (%s) has condition %q, want HasLiveNode or one that requires it", id, typ, cond)
		}
	}
	if _, err := tmpl.GetECSServiceWithName("LiveNodeService"); err != nil {
		t.Error(err)
	}
	if _, err := tmpl.GetElasticLoadBalancingV2LoadBalancerWithName("LiveNodeLoadBalancer"); err != nil {
		t.Error(err)
	}
	t.Logf("%d functions, %d live-node resources", len(fns), live)
}

// conditionOf returns the Condition attribute of a resource.
func conditionOf(r cloudformation.Resource) string {
	v := reflect.ValueOf(r)
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		v = v.Elem()
	}
	f := v.FieldByName("AWSCloudFormationCondition")
	if !f.IsValid() {
		return ""
	}
	return f.String()
}

// Every resource of the template, with its intrinsics rendered (see
// openTemplate), validates against goformation's JSON schema of SAM and
// CloudFormation: no unknown property, none of the wrong type, no missing
// required one. (Parameters and conditions are left out: the schema wants
// numbers as strings there, and the rendering has evaluated conditions.)
func TestTemplateResourcesMatchTheSchema(t *testing.T) {
	tmpl, _ := openTemplate(t)
	tmpl.Parameters, tmpl.Conditions = nil, nil
	js, err := tmpl.JSON()
	if err != nil {
		t.Fatal(err)
	}
	res, err := gojsonschema.Validate(gojsonschema.NewStringLoader(schema.SamSchema), gojsonschema.NewBytesLoader(js))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Errors() {
		t.Errorf("template.yaml: %s", e)
	}
	if len(tmpl.Resources) < 5 {
		t.Fatalf("%d resources validated", len(tmpl.Resources))
	}
}
