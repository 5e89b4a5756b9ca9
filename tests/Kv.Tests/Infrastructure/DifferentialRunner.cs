using System.Globalization;
using System.Text;
using Xunit.Abstractions;

namespace Kv.Tests.Infrastructure;

/// <summary>Thrown when redis-server and kv-server replied differently; the message is a readable diff.</summary>
public sealed class DifferentialMismatchException(string message) : Exception(message);

/// <summary>
/// Sends the same commands to redis-server (the specification) and kv-server over raw RESP connections and
/// compares the raw reply bytes. Connections are numbered (0 by default, more for pub/sub or WATCH races) and
/// opened on first use, on both servers in the same order, so client ids stay aligned.
/// <para>
/// Script language of <see cref="RunAsync"/> (one step per line; blank lines and lines starting with <c>#</c>
/// are ignored; arguments are split like redis-cli: <c>"double \x00 quoted"</c>, <c>'single'</c>):
/// </para>
/// <code>
/// SET k v                 send on connection 0 on both servers, replies must be byte-identical
/// @1 SUBSCRIBE ch         same on connection 1 (any number)
/// !sort SMEMBERS s        compare after sorting the top-level elements (unordered replies); for a SCAN-shaped
///                         reply [cursor, [items]] the cursor must match and the items are sorted
/// !sortpairs CONFIG GET * compare as unordered (name, value) pairs (CONFIG GET, HGETALL, RESP3 maps)
/// !approx 2 PTTL k        integer replies may differ by up to 2 (also: both must be integers)
/// !type RANDOMKEY         compare only the reply type byte and, for errors, the first word
/// !skip CLIENT LIST       send and read on both, do not compare
/// !raw "GET k\r\n"        send raw bytes (C escapes, see RespFormat.Unescape), compare one reply
/// !send "*2\r\n$3\r\nGE"  send raw bytes, read nothing
/// !read                   read one more reply on both (pub/sub message, pipelined reply) and compare
/// !closed                 both servers must close the connection (anything still sent is compared first)
/// !noreply 100            neither server may send anything within 100 ms
/// !sleep 50               pause 50 ms
/// !reconnect              close the connection and open a fresh one on both
/// </code>
/// Mismatches inside one <see cref="RunAsync"/> are collected (the script goes on) and thrown together at the end
/// as <see cref="DifferentialMismatchException"/>, with the preceding steps for context and the kv-server log tail.
/// </summary>
/// <example><code>
/// public class MyTests(ServerPairFixture f, ITestOutputHelper o) : IClassFixture&lt;ServerPairFixture&gt;
/// {
///     [Fact] public async Task Strings()
///     {
///         await using var d = await DifferentialRunner.StartAsync(f, o);   // FLUSHALL on both first
///         await d.RunAsync("""
///             SET a 1
///             INCR a
///             INCR nosuch extra
///             """);
///     }
/// }
/// </code></example>
public sealed class DifferentialRunner : IAsyncDisposable
{
    private readonly ServerProcess _redis;
    private readonly ServerProcess _kv;
    private readonly ITestOutputHelper? _out;
    private readonly Dictionary<int, (RespClient R, RespClient K)> _conns = [];
    private readonly List<string> _history = [];
    private readonly List<string> _mismatches = [];

    /// <summary>Creates a runner over two running servers (nothing is flushed).</summary>
    public DifferentialRunner(ServerProcess redis, ServerProcess kv, ITestOutputHelper? output = null)
    {
        _redis = redis;
        _kv = kv;
        _out = output;
    }

    /// <summary>Creates a runner over the fixture's servers and (by default) sends FLUSHALL to both.</summary>
    public static async Task<DifferentialRunner> StartAsync(ServerPairFixture pair, ITestOutputHelper? output = null, bool flushAll = true)
    {
        var d = new DifferentialRunner(pair.Redis, pair.Kv, output);
        if (flushAll)
        {
            foreach (var s in new[] { pair.Redis, pair.Kv })
            {
                using var c = await s.ConnectAsync().ConfigureAwait(false);
                if (pair.Password is not null) await c.CommandAsync("AUTH", pair.Password).ConfigureAwait(false);
                var r = await c.CommandAsync("FLUSHALL").ConfigureAwait(false);
                if (!RespFormat.StartsWith(r, "+OK")) throw new InvalidOperationException($"FLUSHALL on {s.Name}: {RespFormat.Escape(r)}");
            }
        }
        return d;
    }

    /// <summary>Timeout for each reply. Default 10 s.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Number of replies compared so far.</summary>
    public int Compared { get; private set; }

    /// <summary>The redis-server side.</summary>
    public ServerProcess Redis => _redis;

    /// <summary>The kv-server side.</summary>
    public ServerProcess Kv => _kv;

    /// <summary>The pair of clients for connection <paramref name="index"/> (opened if needed).</summary>
    public async Task<(RespClient Redis, RespClient Kv)> ConnectionAsync(int index = 0)
    {
        if (_conns.TryGetValue(index, out var c)) return c;
        var r = await _redis.ConnectAsync(Timeout).ConfigureAwait(false);
        var k = await _kv.ConnectAsync(Timeout).ConfigureAwait(false);
        r.Timeout = k.Timeout = Timeout;
        _conns[index] = (r, k);
        return (r, k);
    }

    /// <summary>Closes connection <paramref name="index"/> on both sides (a later use reopens it).</summary>
    public void Close(int index = 0)
    {
        if (!_conns.Remove(index, out var c)) return;
        c.R.Dispose();
        c.K.Dispose();
    }

    /// <summary>Sends a command on both servers and returns both raw replies without comparing.</summary>
    public async Task<(byte[] Redis, byte[] Kv)> SendBothAsync(int conn, params string[] args)
    {
        var (r, k) = await ConnectionAsync(conn).ConfigureAwait(false);
        await r.SendAsync(args).ConfigureAwait(false);
        await k.SendAsync(args).ConfigureAwait(false);
        return (await ReadOrDescribe(r).ConfigureAwait(false), await ReadOrDescribe(k).ConfigureAwait(false));
    }

    /// <summary>Sends a command on connection 0 of both servers; throws at once if the replies differ.</summary>
    public Task<byte[]> ExpectSameAsync(params string[] args) => ExpectSameAsync(0, args);

    /// <summary>Sends a command on connection <paramref name="conn"/> of both; throws at once if the replies differ.</summary>
    public async Task<byte[]> ExpectSameAsync(int conn, params string[] args)
    {
        var line = (conn != 0 ? $"@{conn} " : "") + string.Join(' ', args.Select(Quote));
        var (r, k) = await SendBothAsync(conn, args).ConfigureAwait(false);
        if (!Compare(CompareMode.Exact, 0, r, k, out var why))
            throw new DifferentialMismatchException(Describe(line, null, r, k, why));
        Record(line, r);
        return r;
    }

    /// <summary>
    /// Runs a script (see the class remarks) and throws <see cref="DifferentialMismatchException"/> listing every
    /// mismatch at the end, if any.
    /// </summary>
    public async Task RunAsync(string script)
    {
        _mismatches.Clear();
        var lines = script.Replace("\r\n", "\n").Split('\n');
        for (int no = 0; no < lines.Length; no++)
        {
            var line = lines[no].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            try
            {
                await StepAsync(line, no + 1).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not DifferentialMismatchException)
            {
                _mismatches.Add($"line {no + 1}: {line}\n  harness error: {e.GetType().Name}: {e.Message}");
            }
        }
        _out?.WriteLine($"differential: {Compared} replies compared, {_mismatches.Count} mismatches");
        if (_mismatches.Count > 0)
        {
            var sb = new StringBuilder();
            sb.Append(CultureInfo.InvariantCulture, $"{_mismatches.Count} mismatch(es) between redis-server ({_redis.Name}) and kv-server ({_kv.Name}):\n\n");
            foreach (var m in _mismatches.Take(25)) sb.Append(m).Append("\n\n");
            if (_mismatches.Count > 25) sb.Append(CultureInfo.InvariantCulture, $"... and {_mismatches.Count - 25} more\n\n");
            sb.Append("kv-server log tail:\n").Append(_kv.LogTail(15));
            throw new DifferentialMismatchException(sb.ToString());
        }
    }

    private enum CompareMode { Exact, Sort, SortPairs, Approx, Type, Skip }

    private async Task StepAsync(string line, int lineNo)
    {
        string rest = line;
        int conn = 0;
        if (rest.StartsWith('@'))
        {
            int sp = rest.IndexOf(' ');
            conn = int.Parse(sp < 0 ? rest[1..] : rest[1..sp], CultureInfo.InvariantCulture);
            rest = sp < 0 ? "" : rest[(sp + 1)..].TrimStart();
        }
        var mode = CompareMode.Exact;
        long tolerance = 0;
        if (rest.StartsWith('!'))
        {
            int sp = rest.IndexOf(' ');
            var word = (sp < 0 ? rest : rest[..sp]).ToLowerInvariant();
            var arg = sp < 0 ? "" : rest[(sp + 1)..].TrimStart();
            var (r, k) = await ConnectionAsync(conn).ConfigureAwait(false);
            switch (word)
            {
                case "!sort": mode = CompareMode.Sort; rest = arg; break;
                case "!sortpairs": mode = CompareMode.SortPairs; rest = arg; break;
                case "!type": mode = CompareMode.Type; rest = arg; break;
                case "!skip": mode = CompareMode.Skip; rest = arg; break;
                case "!approx":
                {
                    int sp2 = arg.IndexOf(' ');
                    tolerance = long.Parse(arg[..sp2], CultureInfo.InvariantCulture);
                    mode = CompareMode.Approx;
                    rest = arg[(sp2 + 1)..];
                    break;
                }
                case "!raw":
                {
                    var bytes = RespFormat.Unescape(Unquote(arg));
                    await r.SendRawAsync(bytes).ConfigureAwait(false);
                    await k.SendRawAsync(bytes).ConfigureAwait(false);
                    await ReadAndCompare(line, lineNo, r, k, CompareMode.Exact, 0).ConfigureAwait(false);
                    return;
                }
                case "!send":
                {
                    var bytes = RespFormat.Unescape(Unquote(arg));
                    await r.SendRawAsync(bytes).ConfigureAwait(false);
                    await k.SendRawAsync(bytes).ConfigureAwait(false);
                    Record(line, []);
                    return;
                }
                case "!read":
                    await ReadAndCompare(line, lineNo, r, k, CompareMode.Exact, 0).ConfigureAwait(false);
                    return;
                case "!closed":
                {
                    var t = Timeout;
                    var rc = await r.WaitClosedAsync(t).ConfigureAwait(false);
                    var kc = await k.WaitClosedAsync(t).ConfigureAwait(false);
                    Compared++;
                    if (!rc.Received.AsSpan().SequenceEqual(kc.Received) || rc.Closed != kc.Closed || !rc.Closed)
                        _mismatches.Add(Describe(line, lineNo, rc.Received, kc.Received,
                            $"closed: redis={rc.Closed} kv={kc.Closed} (both must close, with the same bytes before)"));
                    Record(line, rc.Received);
                    Close(conn);
                    return;
                }
                case "!noreply":
                {
                    var t = TimeSpan.FromMilliseconds(double.Parse(arg, CultureInfo.InvariantCulture));
                    var rr = r.TryReadReplyAsync(t);
                    var kr = k.TryReadReplyAsync(t);
                    var (rb, kb) = (await rr.ConfigureAwait(false), await kr.ConfigureAwait(false));
                    Compared++;
                    if (rb is not null || kb is not null)
                        _mismatches.Add(Describe(line, lineNo, rb ?? [], kb ?? [], "expected no reply from either server"));
                    Record(line, []);
                    return;
                }
                case "!blocked":
                {
                    // Waits until both servers report N blocked clients (INFO clients), so that clients sent a
                    // blocking command one after another block in that order on both servers.
                    int want = int.Parse(arg, CultureInfo.InvariantCulture);
                    foreach (var server in new[] { _redis, _kv })
                    {
                        using var c = await server.ConnectAsync(Timeout).ConfigureAwait(false);
                        var deadline = DateTime.UtcNow + Timeout;
                        while (true)
                        {
                            var info = System.Text.Encoding.ASCII.GetString(await c.CommandAsync("INFO", "clients").ConfigureAwait(false));
                            if (info.Contains($"blocked_clients:{want}\r\n", StringComparison.Ordinal)) break;
                            if (DateTime.UtcNow > deadline)
                            {
                                _mismatches.Add($"line {lineNo}: {line}: {server.Name} never reached blocked_clients:{want}");
                                break;
                            }
                            await Task.Delay(5).ConfigureAwait(false);
                        }
                    }
                    return;
                }
                case "!sleep":
                    await Task.Delay(int.Parse(arg, CultureInfo.InvariantCulture)).ConfigureAwait(false);
                    return;
                case "!reconnect":
                    Close(conn);
                    await ConnectionAsync(conn).ConfigureAwait(false);
                    return;
                default:
                    throw new FormatException($"unknown directive {word}");
            }
        }
        var args = RespFormat.SplitArgs(rest);
        var (rc2, kc2) = await ConnectionAsync(conn).ConfigureAwait(false);
        await rc2.SendAsync(args).ConfigureAwait(false);
        await kc2.SendAsync(args).ConfigureAwait(false);
        await ReadAndCompare(line, lineNo, rc2, kc2, mode, tolerance).ConfigureAwait(false);
    }

    private async Task ReadAndCompare(string line, int lineNo, RespClient r, RespClient k, CompareMode mode, long tolerance)
    {
        var rb = await ReadOrDescribe(r).ConfigureAwait(false);
        var kb = await ReadOrDescribe(k).ConfigureAwait(false);
        Compared++;
        if (!Compare(mode, tolerance, rb, kb, out var why))
            _mismatches.Add(Describe(line, lineNo, rb, kb, why));
        Record(line, rb);
    }

    /// <summary>Reads a reply; a timeout or close becomes a pseudo reply text so it shows up in the diff.</summary>
    private async Task<byte[]> ReadOrDescribe(RespClient c)
    {
        try
        {
            return await c.ReadReplyAsync(Timeout).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return Encoding.ASCII.GetBytes($"<<no reply within {Timeout.TotalMilliseconds} ms; partial: {RespFormat.Escape(c.TakeBuffered())}>>");
        }
        catch (RespConnectionClosedException e)
        {
            return Encoding.ASCII.GetBytes($"<<connection closed; partial: {RespFormat.Escape(e.Partial)}>>");
        }
    }

    private static bool Compare(CompareMode mode, long tolerance, byte[] r, byte[] k, out string why)
    {
        why = "";
        switch (mode)
        {
            case CompareMode.Skip:
                return true;
            case CompareMode.Type:
                if (r.Length == 0 || k.Length == 0 || r[0] != k[0]) { why = "reply types differ"; return false; }
                if (r[0] == (byte)'-' && FirstWord(r) != FirstWord(k)) { why = "error codes differ"; return false; }
                return true;
            case CompareMode.Approx:
            {
                var a = RespFormat.Integer(r);
                var b = RespFormat.Integer(k);
                if (a is null || b is null)
                {
                    if (r.AsSpan().SequenceEqual(k)) return true;
                    why = "not both integers";
                    return false;
                }
                if (Math.Abs(a.Value - b.Value) <= tolerance) return true;
                why = $"integers differ by {Math.Abs(a.Value - b.Value)} > {tolerance}";
                return false;
            }
            case CompareMode.Sort:
            {
                var ea = SafeElements(r);
                var eb = SafeElements(k);
                // SCAN shape [cursor, [elements]]: the cursor must match exactly, the inner array is sorted.
                if (ea is { Count: 2 } && eb is { Count: 2 } && ea[0][0] == (byte)'$' && SafeElements(ea[1]) is { } ia && SafeElements(eb[1]) is { } ib)
                {
                    if (!ea[0].AsSpan().SequenceEqual(eb[0])) { why = "cursors differ"; return false; }
                    if (!Compare(CompareMode.Sort, 0, ea[1], eb[1], out why)) return false;
                    return ia.Count == ib.Count;
                }
                if (ea is null || eb is null)
                {
                    if (r.AsSpan().SequenceEqual(k)) return true;
                    why = "not both aggregates";
                    return false;
                }
                if (RespFormat.Header(r) != RespFormat.Header(k)) { why = "aggregate headers differ"; return false; }
                ea.Sort(ByteOrder);
                eb.Sort(ByteOrder);
                for (int i = 0; i < ea.Count; i++)
                    if (!ea[i].AsSpan().SequenceEqual(eb[i])) { why = $"sorted element {i} differs"; return false; }
                return true;
            }
            case CompareMode.SortPairs:
            {
                var ea = SafeElements(r);
                var eb = SafeElements(k);
                if (ea is null || eb is null || ea.Count % 2 != 0 || eb.Count % 2 != 0)
                {
                    if (r.AsSpan().SequenceEqual(k)) return true;
                    why = "not both aggregates of pairs";
                    return false;
                }
                if (RespFormat.Header(r) != RespFormat.Header(k)) { why = "aggregate headers differ"; return false; }
                static List<byte[]> Pairs(List<byte[]> e) => Enumerable.Range(0, e.Count / 2).Select(i => e[2 * i].Concat(e[2 * i + 1]).ToArray()).ToList();
                var pa = Pairs(ea);
                var pb = Pairs(eb);
                pa.Sort(ByteOrder);
                pb.Sort(ByteOrder);
                for (int i = 0; i < pa.Count; i++)
                    if (!pa[i].AsSpan().SequenceEqual(pb[i])) { why = $"sorted pair {i} differs: redis \"{RespFormat.Escape(pa[i], 200)}\" kv \"{RespFormat.Escape(pb[i], 200)}\""; return false; }
                return true;
            }
            default:
                if (r.AsSpan().SequenceEqual(k)) return true;
                int at = r.AsSpan().CommonPrefixLength(k);
                why = $"first difference at byte {at}";
                return false;
        }
    }

    private static List<byte[]>? SafeElements(byte[] b)
    {
        try { return RespFormat.Elements(b); } catch (FormatException) { return null; }
    }

    private static int ByteOrder(byte[] a, byte[] b) => a.AsSpan().SequenceCompareTo(b);

    private static string FirstWord(byte[] err)
    {
        var s = Encoding.Latin1.GetString(err);
        int sp = s.IndexOfAny([' ', '\r']);
        return sp < 0 ? s : s[..sp];
    }

    private string Describe(string line, int? lineNo, byte[] r, byte[] k, string why)
    {
        var sb = new StringBuilder();
        sb.Append(lineNo is null ? "" : $"line {lineNo}: ").Append(line).Append('\n');
        foreach (var h in _history.TakeLast(6)) sb.Append("    (before) ").Append(h).Append('\n');
        sb.Append("  redis: \"").Append(RespFormat.Escape(r, 800)).Append("\"\n");
        sb.Append("  kv:    \"").Append(RespFormat.Escape(k, 800)).Append("\"\n");
        sb.Append("  ").Append(why);
        return sb.ToString();
    }

    private void Record(string line, byte[] reply)
    {
        _history.Add($"{line}  ->  {RespFormat.Escape(reply, 80)}");
        if (_history.Count > 50) _history.RemoveRange(0, 25);
    }

    private static string Unquote(string s)
    {
        s = s.Trim();
        if (s.Length >= 2 && s[0] == '"' && s[^1] == '"') return s[1..^1];
        return s;
    }

    private static string Quote(string a)
        => a.Length > 0 && a.All(c => c > ' ' && c < 0x7f && c != '"' && c != '\'') ? a : "\"" + RespFormat.Escape(Encoding.UTF8.GetBytes(a)) + "\"";

    /// <summary>Closes all connections (the servers belong to the fixture and keep running).</summary>
    public ValueTask DisposeAsync()
    {
        foreach (var i in _conns.Keys.ToList()) Close(i);
        return ValueTask.CompletedTask;
    }
}
