package objstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// S3Config configures the S3 backend. The zero value of a field selects its
// default; call EnsureDefaults and then Validate.
type S3Config struct {
	// Bucket is the S3 bucket name. Required.
	Bucket string `toml:"bucket"`
	// Prefix, when set, is prepended (joined with '/') to every key, so
	// several Floe deployments can share a bucket. Keys are returned
	// without it. Leading and trailing slashes are ignored.
	Prefix string `toml:"prefix"`
	// Endpoint is the base URL of an S3-compatible server, e.g.
	// "http://127.0.0.1:7070". Default: AWS, chosen by region.
	Endpoint string `toml:"endpoint"`
	// Region signs requests. Default: the SDK's chain (AWS_REGION, shared
	// config), else "us-east-1".
	Region string `toml:"region"`
	// ForcePathStyle addresses the bucket as "endpoint/bucket" rather than
	// "bucket.endpoint"; most S3-compatible servers need it.
	ForcePathStyle bool `toml:"force_path_style"`
	// AccessKeyID, SecretAccessKey and SessionToken are static
	// credentials. Default: the SDK's chain (environment, shared
	// credentials, web identity, instance role).
	AccessKeyID     string `toml:"access_key_id"`
	SecretAccessKey string `toml:"secret_access_key"`
	SessionToken    string `toml:"session_token"`
	// MaxAttempts bounds the attempts per request, including the first.
	// Default: 5.
	MaxAttempts int `toml:"max_attempts"`
	// MaxBackoff caps the jittered exponential delay between attempts.
	// Default: 2s.
	MaxBackoff time.Duration `toml:"max_backoff"`
}

// S3Config defaults.
const (
	DefaultS3MaxAttempts = 5
	DefaultS3MaxBackoff  = 2 * time.Second
)

// EnsureDefaults fills zero fields with their defaults and normalises the
// prefix.
func (c *S3Config) EnsureDefaults() {
	if c.MaxAttempts == 0 {
		c.MaxAttempts = DefaultS3MaxAttempts
	}
	if c.MaxBackoff == 0 {
		c.MaxBackoff = DefaultS3MaxBackoff
	}
	c.Prefix = strings.Trim(c.Prefix, "/")
}

// Validate reports every problem with the configuration, each naming its
// key ("s3.bucket: required"), joined with errors.Join.
func (c S3Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("s3.%s: %s", key, fmt.Sprintf(format, args...)))
	}
	switch {
	case c.Bucket == "":
		bad("bucket", "required")
	case !validBucketName(c.Bucket):
		bad("bucket", "%q is not a valid bucket name (3-63 characters: a-z, 0-9, '.', '-')", c.Bucket)
	}
	if p := strings.Trim(c.Prefix, "/"); p != "" {
		if rule := keyRule(p); rule != "" {
			bad("prefix", "%q: %s", c.Prefix, rule)
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		switch {
		case err != nil:
			bad("endpoint", "not a URL")
		case u.Scheme != "http" && u.Scheme != "https":
			bad("endpoint", "scheme must be http or https, got %q", u.Scheme)
		case u.Host == "":
			bad("endpoint", "missing host")
		case u.User != nil:
			bad("endpoint", "must not contain credentials; use access_key_id and secret_access_key")
		}
	}
	if (c.AccessKeyID == "") != (c.SecretAccessKey == "") {
		if c.AccessKeyID == "" {
			bad("access_key_id", "required when secret_access_key is set")
		} else {
			bad("secret_access_key", "required when access_key_id is set")
		}
	}
	if c.SessionToken != "" && c.AccessKeyID == "" {
		bad("session_token", "requires access_key_id and secret_access_key")
	}
	if c.MaxAttempts < 0 {
		bad("max_attempts", "must be at least 1, got %d", c.MaxAttempts)
	}
	if c.MaxBackoff < 0 {
		bad("max_backoff", "must not be negative, got %s", c.MaxBackoff)
	}
	return errors.Join(errs...)
}

// validBucketName checks S3's naming rules: 3-63 characters of a-z, 0-9,
// '.' and '-', starting and ending with a letter or digit.
func validBucketName(name string) bool {
	if len(name) < 3 || len(name) > 63 {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !alnum && ((c != '.' && c != '-') || i == 0 || i == len(name)-1) {
			return false
		}
	}
	return true
}

// String renders the configuration with secrets redacted.
func (c S3Config) String() string {
	r := c.redacted()
	return fmt.Sprintf("{bucket:%q prefix:%q endpoint:%q region:%q force_path_style:%t access_key_id:%q secret_access_key:%q session_token:%q max_attempts:%d max_backoff:%s}",
		r.Bucket, r.Prefix, r.Endpoint, r.Region, r.ForcePathStyle, r.AccessKeyID, r.SecretAccessKey, r.SessionToken, r.MaxAttempts, r.MaxBackoff)
}

// GoString redacts secrets from %#v too.
func (c S3Config) GoString() string { return "objstore.S3Config" + c.String() }

// LogValue redacts secrets when the configuration is logged with slog.
func (c S3Config) LogValue() slog.Value {
	r := c.redacted()
	return slog.GroupValue(
		slog.String("bucket", r.Bucket),
		slog.String("prefix", r.Prefix),
		slog.String("endpoint", r.Endpoint),
		slog.String("region", r.Region),
		slog.Bool("force_path_style", r.ForcePathStyle),
		slog.String("access_key_id", r.AccessKeyID),
		slog.String("secret_access_key", r.SecretAccessKey),
		slog.String("session_token", r.SessionToken),
		slog.Int("max_attempts", r.MaxAttempts),
		slog.Duration("max_backoff", r.MaxBackoff),
	)
}

func (c S3Config) redacted() S3Config {
	const mask = "REDACTED"
	if c.SecretAccessKey != "" {
		c.SecretAccessKey = mask
	}
	if c.SessionToken != "" {
		c.SessionToken = mask
	}
	return c
}

// S3 is a Bucket backed by Amazon S3 or an S3-compatible server.
//
// S3 is safe for concurrent use. Consistency is the server's: AWS S3 is
// strongly consistent for all operations used here and implements
// conditional writes (If-None-Match: *, If-Match) atomically. Requests are
// retried with jittered exponential backoff (S3Config.MaxAttempts and
// MaxBackoff), without the SDK's client-side retry quota, which fails
// requests outright under bursts of errors.
//
// The ETag is the server's (for AWS, the MD5 of the content of a
// single-part upload), without quotes; rewriting identical content may
// yield the same ETag.
//
// A conditional Put that fails with a precondition error after the SDK
// retried it is ambiguous: an earlier attempt may have written the object
// and the retry then lost against it. Such errors are not reported as
// ErrConditionNotMet; see Put.
//
// Server caveats. versitygw (v1.8.0, posix backend) honours If-None-Match
// and If-Match atomically, but a GET racing with an overwrite may return
// the new content with the previous version's ETag (an If-Match with it
// then fails: a spurious conflict, never a lost update). Its --sidecar
// metadata mode publishes the ETag before the content and loses updates
// under If-Match read-modify-write: do not run Floe on it.
type S3 struct {
	client *s3.Client
	bucket string
	prefix string // normalised: no leading or trailing '/'
	region string
	// endpoint is the custom endpoint URL, "" for AWS (error messages).
	endpoint string
	now      func() time.Time
}

var _ Bucket = (*S3)(nil)

// NewS3 returns a bucket for cfg. It fills defaults and validates cfg, but
// makes no request; see EnsureBucket. The logger receives the SDK's own
// warnings; nil discards them.
func NewS3(ctx context.Context, cfg S3Config, logger *slog.Logger) (*S3, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("objstore: s3 config: %w", err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	// The SDK's own client type is required for AWS_CA_BUNDLE to apply.
	httpClient := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConnsPerHost = 64 // the default 10 churns connections under concurrency
	})
	opts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = cfg.MaxAttempts
				o.MaxBackoff = cfg.MaxBackoff
				o.RateLimiter = ratelimit.None
			})
		}),
		// Checksums only where an API requires them: S3-compatible
		// servers vary in their support for the newer flexible checksums,
		// and validating GETs logs a warning per response without one.
		config.WithRequestChecksumCalculation(aws.RequestChecksumCalculationWhenRequired),
		config.WithResponseChecksumValidation(aws.ResponseChecksumValidationWhenRequired),
		config.WithLogger(sdkLogger{logger}),
	}
	if cfg.Region != "" {
		opts = append(opts, config.WithRegion(cfg.Region))
	}
	if cfg.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(cfg.AccessKeyID, cfg.SecretAccessKey, cfg.SessionToken)))
	}
	awsCfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("objstore: s3 %s: load aws config: %w", cfg.Bucket, err)
	}
	if awsCfg.Region == "" {
		awsCfg.Region = "us-east-1"
	}
	client := s3.NewFromConfig(awsCfg, func(o *s3.Options) {
		if cfg.Endpoint != "" {
			o.BaseEndpoint = aws.String(cfg.Endpoint)
		}
		o.UsePathStyle = cfg.ForcePathStyle
	})
	return &S3{
		client:   client,
		bucket:   cfg.Bucket,
		prefix:   cfg.Prefix,
		region:   awsCfg.Region,
		endpoint: cfg.Endpoint,
		now:      time.Now,
	}, nil
}

// sdkLogger forwards the SDK's log lines (mostly warnings) to slog.
type sdkLogger struct{ l *slog.Logger }

func (s sdkLogger) Logf(c logging.Classification, format string, v ...any) {
	level := slog.LevelDebug
	if c == logging.Warn {
		level = slog.LevelWarn
	}
	s.l.LogAttrs(context.Background(), level, "s3 sdk", slog.String("detail", fmt.Sprintf(format, v...)))
}

// EnsureBucket creates the bucket if it does not exist yet. It is meant for
// tests and local S3-compatible servers; production buckets are usually
// provisioned separately.
func (s *S3) EnsureBucket(ctx context.Context) error {
	_, err := s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &s.bucket})
	if err == nil {
		return nil
	}
	if code, status := errorCode(err); status != http.StatusNotFound && code != "NoSuchBucket" && code != "NotFound" {
		return fmt.Errorf("objstore: s3 head bucket %s: %w", s.bucket, err)
	}
	in := &s3.CreateBucketInput{Bucket: &s.bucket}
	if s.region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(s.region),
		}
	}
	_, err = s.client.CreateBucket(ctx, in)
	if code, _ := errorCode(err); err != nil && code != "BucketAlreadyOwnedByYou" && code != "BucketAlreadyExists" {
		return fmt.Errorf("objstore: s3 create bucket %s: %w", s.bucket, err)
	}
	return nil
}

// fullKey maps a validated key to the stored one.
func (s *S3) fullKey(op, key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", fmt.Errorf("objstore: s3 %s: %w", op, err)
	}
	full := joinKey(s.prefix, key)
	if len(full) > MaxKeyLen {
		return "", fmt.Errorf("objstore: s3 %s: %w", op,
			invalidKey(key, fmt.Sprintf("longer than %d bytes with bucket prefix %q", MaxKeyLen, s.prefix)))
	}
	return full, nil
}

func (s *S3) begin(ctx context.Context, op, key string) (string, error) {
	full, err := s.fullKey(op, key)
	if err != nil {
		return "", err
	}
	if err := ctx.Err(); err != nil {
		return "", fmt.Errorf("objstore: s3 %s %q: %w", op, key, err)
	}
	return full, nil
}

// errorCode extracts the S3 error code and HTTP status from an SDK error.
func errorCode(err error) (code string, status int) {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return code, status
}

// isPathConflict reports the errors of S3 gateways over filesystems that
// cannot hold both "a" and "a/b" (versitygw posix, MinIO). Other 409s
// (e.g. OperationAborted) are deliberately not ErrConditionNotMet: a caller
// would take them for a lost race and retry forever.
func isPathConflict(code string) bool {
	switch code {
	case "ExistingObjectIsDirectory", // versitygw: "a" where "a/b" exists
		"ObjectParentIsFile",            // versitygw: "a/b" where "a" exists
		"XMinioParentIsObject",          // MinIO
		"XMinioObjectExistsAsDirectory": // MinIO
		return true
	}
	return false
}

// classify maps an SDK error to a sentinel, or nil if none applies.
func classify(op string, err error) error {
	code, status := errorCode(err)
	switch {
	case code == "NoSuchBucket":
		return ErrBucketNotFound // the bucket, not the object, is missing
	case code == "NoSuchKey" || code == "NotFound" || status == http.StatusNotFound:
		return ErrNotFound
	case code == "PreconditionFailed" || status == http.StatusPreconditionFailed:
		return ErrConditionNotMet
	case code == "ConditionalRequestConflict":
		// AWS: a concurrent conditional write to the key won.
		return ErrConditionNotMet
	case isPathConflict(code):
		return ErrInvalidKey
	case code == "InvalidRange" || status == http.StatusRequestedRangeNotSatisfiable:
		return ErrInvalidRange
	case isUnavailable(code, status, err):
		return ErrUnavailable
	}
	return nil
}

// isUnavailable reports SDK errors that say the store could not serve the
// request now: HTTP 5xx and 429, S3's throttling and timeout codes, and a
// request that could not be sent at all (connection refused or reset, DNS,
// TLS). The SDK has already retried them. A cancelled or expired context
// is the caller's doing, not the store's.
func isUnavailable(code string, status int, err error) bool {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	if status >= http.StatusInternalServerError || status == http.StatusTooManyRequests {
		return true
	}
	switch code {
	case "SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "ServiceUnavailable", "InternalError":
		return true
	}
	var send *smithyhttp.RequestSendError
	return errors.As(err, &send)
}

// wrapErr wraps an SDK error with the operation and key, classifying it.
func (s *S3) wrapErr(op, key string, err error) error {
	if sentinel := classify(op, err); sentinel != nil {
		code, status := errorCode(err)
		if sentinel == ErrBucketNotFound {
			return fmt.Errorf("objstore: s3 %s %q: %w: %q at %s (create it, or fix storage.s3.bucket / storage.s3.endpoint)",
				op, key, sentinel, s.bucket, s.endpointName())
		}
		if sentinel == ErrUnavailable {
			return fmt.Errorf("objstore: s3 %s %q: %w: %w", op, key, sentinel, err)
		}
		return fmt.Errorf("objstore: s3 %s %q: %w (%s, HTTP %d)", op, key, sentinel, code, status)
	}
	return fmt.Errorf("objstore: s3 %s %q: %w", op, key, err)
}

// trimETag strips the quotes S3 puts around ETags.
func trimETag(etag *string) string { return strings.Trim(aws.ToString(etag), `"`) }

// Get implements Bucket.
func (s *S3) Get(ctx context.Context, key string) (io.ReadCloser, Attrs, error) {
	full, err := s.begin(ctx, OpGet, key)
	if err != nil {
		return nil, Attrs{}, err
	}
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &full})
	if err != nil {
		return nil, Attrs{}, s.wrapErr(OpGet, key, err)
	}
	return out.Body, Attrs{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         trimETag(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
	}, nil
}

// GetRange implements Bucket.
func (s *S3) GetRange(ctx context.Context, key string, off, length int64) (io.ReadCloser, error) {
	full, err := s.begin(ctx, OpGetRange, key)
	if err != nil {
		return nil, err
	}
	if off < 0 {
		_, err := checkRange(key, -1, off, length)
		return nil, fmt.Errorf("objstore: s3 get range: %w", err)
	}
	if length == 0 {
		// HTTP cannot express an empty range; check the offset by HEAD.
		a, err := s.Attributes(ctx, key)
		if err != nil {
			return nil, err
		}
		if _, err := checkRange(key, a.Size, off, length); err != nil {
			return nil, fmt.Errorf("objstore: s3 get range: %w", err)
		}
		return io.NopCloser(bytes.NewReader(nil)), nil
	}
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &full}
	switch {
	case off == 0 && length < 0:
		// The whole object: no Range, which also works for empty objects.
	case length < 0 || length > math.MaxInt64-off:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", off))
	default:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		if off == 0 && classify(OpGetRange, err) == ErrInvalidRange {
			// S3 refuses every range of an empty object, which the
			// contract allows at offset 0.
			if a, herr := s.Attributes(ctx, key); herr == nil && a.Size == 0 {
				return io.NopCloser(bytes.NewReader(nil)), nil
			}
		}
		return nil, s.wrapErr(OpGetRange, key, err)
	}
	if in.Range != nil && out.ContentRange == nil {
		_ = out.Body.Close()
		return nil, fmt.Errorf("objstore: s3 get range %q: server ignored range %s", key, *in.Range)
	}
	return out.Body, nil
}

// Attributes implements Bucket (HEAD).
func (s *S3) Attributes(ctx context.Context, key string) (Attrs, error) {
	full, err := s.begin(ctx, OpAttributes, key)
	if err != nil {
		return Attrs{}, err
	}
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &full})
	if err != nil {
		return Attrs{}, s.wrapErr(OpAttributes, key, err)
	}
	return Attrs{
		Key:          key,
		Size:         aws.ToInt64(out.ContentLength),
		ETag:         trimETag(out.ETag),
		LastModified: aws.ToTime(out.LastModified),
	}, nil
}

// Put implements Bucket with If-None-Match: * or If-Match.
//
// Errors from a conditional Put fall into three classes. ErrConditionNotMet:
// the object was not written. ErrInvalidKey or invalid options: nothing was
// sent. Anything else, including ErrUnavailable and a precondition failure
// reported after the SDK retried the request: the object may or may not have
// been written.
//
// LastModified of the result is the server's response Date (one second
// precision), since PutObject does not report the stored time.
func (s *S3) Put(ctx context.Context, key string, data []byte, opts PutOptions) (Attrs, error) {
	full, err := s.begin(ctx, OpPut, key)
	if err != nil {
		return Attrs{}, err
	}
	if err := opts.Validate(); err != nil {
		return Attrs{}, fmt.Errorf("objstore: s3 put %q: %w", key, err)
	}
	in := &s3.PutObjectInput{
		Bucket:        &s.bucket,
		Key:           &full,
		Body:          bytes.NewReader(data),
		ContentLength: aws.Int64(int64(len(data))),
	}
	conditional := false
	if opts.IfNoneMatch {
		in.IfNoneMatch = aws.String("*")
		conditional = true
	}
	if opts.IfMatch != "" {
		in.IfMatch = aws.String(`"` + opts.IfMatch + `"`)
		conditional = true
	}
	attempts := 0
	out, err := s.client.PutObject(ctx, in, countAttempts(&attempts))
	if err != nil {
		sentinel := classify(OpPut, err)
		switch {
		case opts.IfMatch != "" && sentinel == ErrNotFound:
			sentinel = ErrConditionNotMet // AWS answers If-Match on a missing key with 404
		case !conditional && sentinel == ErrConditionNotMet:
			sentinel = nil // no precondition was sent
		}
		code, status := errorCode(err)
		switch {
		case sentinel == ErrConditionNotMet && attempts > 1:
			return Attrs{}, fmt.Errorf("objstore: s3 put %q: precondition failed on attempt %d, after an earlier attempt "+
				"failed; that attempt may have written the object (outcome unknown): %s, HTTP %d", key, attempts, code, status)
		case sentinel == ErrConditionNotMet || sentinel == ErrInvalidKey:
			return Attrs{}, fmt.Errorf("objstore: s3 put %q: %w (%s, HTTP %d)", key, sentinel, code, status)
		case sentinel == ErrUnavailable:
			return Attrs{}, fmt.Errorf("objstore: s3 put %q: %w (the object may have been written): %w", key, sentinel, err)
		}
		return Attrs{}, fmt.Errorf("objstore: s3 put %q: %w", key, err)
	}
	attrs := Attrs{Key: key, Size: int64(len(data)), ETag: trimETag(out.ETag), LastModified: s.now()}
	if resp, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		if t, err := http.ParseTime(resp.Header.Get("Date")); err == nil {
			attrs.LastModified = t
		}
	}
	if attrs.ETag == "" {
		// Never hand out an empty ETag: as IfMatch it would mean
		// "unconditional". HEAD races with other writers, so fail instead
		// of guessing.
		return Attrs{}, fmt.Errorf("objstore: s3 put %q: server returned no etag; the object was written", key)
	}
	return attrs, nil
}

// countAttempts counts the HTTP attempts of one call: the middleware sits
// after the retry loop, so it runs once per attempt.
func countAttempts(n *int) func(*s3.Options) {
	return func(o *s3.Options) {
		o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
			return stack.Finalize.Insert(middleware.FinalizeMiddlewareFunc("FloeCountAttempts",
				func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
					*n++
					return next.HandleFinalize(ctx, in)
				}), "Retry", middleware.After)
		})
	}
}

// Delete implements Bucket.
func (s *S3) Delete(ctx context.Context, key string) error {
	full, err := s.begin(ctx, OpDelete, key)
	if err != nil {
		return err
	}
	_, err = s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &full})
	if err != nil && classify(OpDelete, err) != ErrNotFound {
		return s.wrapErr(OpDelete, key, err)
	}
	return nil
}

// List implements Bucket with ListObjectsV2, one page of up to 1000 keys
// per request.
func (s *S3) List(ctx context.Context, prefix, startAfter string) iter.Seq2[Attrs, error] {
	return func(yield func(Attrs, error) bool) {
		if err := validatePrefix(prefix); err != nil {
			yield(Attrs{}, fmt.Errorf("objstore: s3 list: %w", err))
			return
		}
		if err := ctx.Err(); err != nil {
			yield(Attrs{}, fmt.Errorf("objstore: s3 list %q: %w", prefix, err))
			return
		}
		strip := ""
		if s.prefix != "" {
			strip = s.prefix + "/"
		}
		in := &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: aws.String(strip + prefix)}
		if startAfter != "" {
			in.StartAfter = aws.String(strip + startAfter)
		}
		for {
			out, err := s.client.ListObjectsV2(ctx, in)
			if err != nil {
				yield(Attrs{}, s.wrapErr(OpList, prefix, err))
				return
			}
			for _, o := range out.Contents {
				key, ok := strings.CutPrefix(aws.ToString(o.Key), strip)
				if !ok || key == "" {
					continue
				}
				a := Attrs{Key: key, Size: aws.ToInt64(o.Size), ETag: trimETag(o.ETag), LastModified: aws.ToTime(o.LastModified)}
				if !yield(a, nil) {
					return
				}
			}
			if !aws.ToBool(out.IsTruncated) {
				return
			}
			if out.NextContinuationToken != nil {
				in.ContinuationToken = out.NextContinuationToken
			} else if n := len(out.Contents); n > 0 {
				in.StartAfter = out.Contents[n-1].Key
			} else {
				yield(Attrs{}, fmt.Errorf("objstore: s3 list %q: truncated page without continuation", prefix))
				return
			}
		}
	}
}

// Name implements Bucket: "s3://bucket" or "s3://bucket/prefix". It never
// includes the endpoint or credentials.
func (s *S3) Name() string {
	if s.prefix == "" {
		return "s3://" + s.bucket
	}
	return "s3://" + s.bucket + "/" + s.prefix
}

// endpointName says where the bucket was looked for, for error messages.
func (s *S3) endpointName() string {
	if s.endpoint == "" {
		return "AWS region " + s.region
	}
	return s.endpoint
}

// Close implements Bucket. It does nothing: the SDK offers no way to close
// its connection pool, whose idle connections time out after 90 seconds.
func (s *S3) Close() error { return nil }
