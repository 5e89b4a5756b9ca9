// Kv replication benchmarks. Usage:
//   kv-replbench memory   [--seconds 8] [--rate-kb 2048]     shared buffer memory with 1/2/4/8 replicas (+ chart)
//   kv-replbench fullsync [--keys 1000000] [--rounds 3] [--only kv|redis]
//                                                            time to master_link_status:up, kv->kv vs redis->redis (alternating)
//   kv-replbench lag      [--requests 2000000]               replica lag under redis-benchmark -t set -P 16
// Environment: KV_SERVER (default: the kv-server built next to this program or /tmp/art-kvrepl), REDIS_SERVER.
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

var mode = args.Length > 0 ? args[0] : "memory";
string Opt(string name, string def)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : def;
}
var kvPath = Environment.GetEnvironmentVariable("KV_SERVER") ?? FindKv();
var redisPath = Environment.GetEnvironmentVariable("REDIS_SERVER") ?? "/usr/bin/redis-server";
Console.WriteLine($"kv-server: {kvPath}\nredis-server: {redisPath}");
var nodes = new List<Node>();
AppDomain.CurrentDomain.ProcessExit += (_, _) => { foreach (var n in nodes) n.Dispose(); };
try
{
    switch (mode)
    {
        case "memory": await MemoryBench(); break;
        case "fullsync": await FullSyncBench(); break;
        case "lag": await LagBench(); break;
        default: Console.Error.WriteLine("modes: memory | fullsync | lag"); return 2;
    }
}
finally
{
    foreach (var n in nodes) n.Dispose();
}
return 0;

static string FindKv()
{
    var here = Path.Combine(AppContext.BaseDirectory, "..", "..", "Kv.Server", "release", "kv-server");
    if (File.Exists(here)) return Path.GetFullPath(here);
    return "/tmp/art-kvrepl/bin/Kv.Server/release/kv-server";
}

Node Start(bool kv, params string[] extra)
{
    var n = Node.Start(kv ? kvPath : redisPath, kv, extra);
    nodes.Add(n);
    return n;
}

async Task MemoryBench()
{
    int seconds = int.Parse(Opt("--seconds", "8"), CultureInfo.InvariantCulture);
    int rateKb = int.Parse(Opt("--rate-kb", "2048"), CultureInfo.InvariantCulture);
    var plot = new ScottPlot.Plot();
    var table = new StringBuilder("| replicas | backlog | max mem_total_replication_buffers | max (backlog + slowest lag) at that sample | max ratio mem / (backlog + lag) | stream written |\n|---|---|---|---|---|---|\n");
    foreach (int replicas in new[] { 1, 2, 4, 8 })
    {
        var master = Start(true, "--repl-backlog-size", "1mb");
        var reps = new List<Node>();
        for (int i = 0; i < replicas; i++) reps.Add(Start(false, "--replicaof", "127.0.0.1", master.Port.ToString(CultureInfo.InvariantCulture)));
        foreach (var r in reps) await WaitUp(r);
        using var cts = new CancellationTokenSource();
        var writer = SteadyWriter(master.Port, rateKb * 1024, cts.Token);
        var xs = new List<double>();
        var mem = new List<double>();
        var bound = new List<double>();
        double maxRatio = 0, maxMem = 0, boundAtMax = 0;
        var sw = Stopwatch.StartNew();
        using var c = await Resp.ConnectAsync(master.Port);
        while (sw.Elapsed.TotalSeconds < seconds)
        {
            await Task.Delay(100);
            var mi = Info(await c.Text("INFO", "memory"));
            var ri = Info(await c.Text("INFO", "replication"));
            long total = long.Parse(mi["mem_total_replication_buffers"], CultureInfo.InvariantCulture);
            long backlog = long.Parse(ri["repl_backlog_size"], CultureInfo.InvariantCulture);
            long offset = long.Parse(ri["master_repl_offset"], CultureInfo.InvariantCulture);
            long slowest = offset;
            foreach (var (k, v) in ri)
                if (k.StartsWith("slave", StringComparison.Ordinal) && v.Contains("offset="))
                    slowest = Math.Min(slowest, long.Parse(v.Split(',').First(p => p.StartsWith("offset=", StringComparison.Ordinal))[7..], CultureInfo.InvariantCulture));
            long b = backlog + (offset - slowest);
            xs.Add(sw.Elapsed.TotalSeconds);
            mem.Add(total / 1048576.0);
            bound.Add(b / 1048576.0);
            double ratio = (double)total / b;
            if (ratio > maxRatio) maxRatio = ratio;
            if (total > maxMem) { maxMem = total; boundAtMax = b; }
        }
        cts.Cancel();
        long written = await writer;
        var line = plot.Add.Scatter(xs.ToArray(), mem.ToArray());
        line.LegendText = $"{replicas} replica(s): mem_total_replication_buffers";
        var bl = plot.Add.Scatter(xs.ToArray(), bound.ToArray());
        bl.LegendText = $"{replicas} replica(s): backlog + slowest lag";
        bl.LinePattern = ScottPlot.LinePattern.Dashed;
        bl.Color = line.Color;
        table.Append(CultureInfo.InvariantCulture, $"| {replicas} | 1 MiB | {maxMem / 1048576.0:F2} MiB | {boundAtMax / 1048576.0:F2} MiB | {maxRatio:F2} | {written / 1048576.0:F1} MiB |\n");
        Console.WriteLine($"{replicas} replicas: max mem {maxMem / 1048576.0:F2} MiB, max ratio {maxRatio:F2}");
        foreach (var r in reps) { r.Dispose(); nodes.Remove(r); }
        master.Dispose();
        nodes.Remove(master);
    }
    plot.Title($"kv master: shared replication buffer under {rateKb} KiB/s of writes");
    plot.XLabel("seconds");
    plot.YLabel("MiB");
    plot.ShowLegend();
    var png = Path.GetFullPath(Opt("--chart", "docs/images/kv-repl-memory.png"));
    Directory.CreateDirectory(Path.GetDirectoryName(png)!);
    plot.SavePng(png, 1000, 600);
    Console.WriteLine(table);
    Console.WriteLine($"chart: {png}");
}

async Task FullSyncBench()
{
    // Both masters stay up and the replicas alternate (kv, redis, kv, redis...), so a change in the machine's load
    // hits both pairs alike. CPU seconds come from /proc (utime+stime; the master's include reaped children, i.e.
    // redis's forked child).
    int keys = int.Parse(Opt("--keys", "1000000"), CultureInfo.InvariantCulture);
    int rounds = int.Parse(Opt("--rounds", "3"), CultureInfo.InvariantCulture);
    string only = Opt("--only", "");
    var kinds = only switch { "kv" => new[] { true }, "redis" => new[] { false }, _ => new[] { true, false } };
    Console.WriteLine($"load average at start: {File.ReadAllText("/proc/loadavg").Trim()}");
    var masters = new Dictionary<bool, Node>();
    foreach (bool kv in kinds)
    {
        var master = Start(kv);
        var sw = Stopwatch.StartNew();
        await Populate(master.Port, keys);
        Console.WriteLine($"{(kv ? "kv" : "redis")}: populated {keys} keys in {sw.Elapsed.TotalSeconds:F1} s");
        masters[kv] = master;
    }
    var times = kinds.ToDictionary(k => k, _ => new List<double>());
    var repCpu = kinds.ToDictionary(k => k, _ => new List<double>());
    var masCpu = kinds.ToDictionary(k => k, _ => new List<double>());
    for (int round = 0; round < rounds; round++)
    {
        foreach (bool kv in kinds)
        {
            string name = kv ? "kv -> kv" : "redis -> redis";
            var master = masters[kv];
            var replica = Start(kv);
            using var rc = await Resp.ConnectAsync(replica.Port);
            await Task.Delay(200);
            double rc0 = CpuSeconds(replica.Process.Id), mc0 = CpuSeconds(master.Process.Id);
            var sw = Stopwatch.StartNew();
            await rc.Text("REPLICAOF", "127.0.0.1", master.Port.ToString(CultureInfo.InvariantCulture));
            while (Info(await rc.Text("INFO", "replication")).GetValueOrDefault("master_link_status") != "up") await Task.Delay(10);
            double t = sw.Elapsed.TotalSeconds;
            double rcpu = CpuSeconds(replica.Process.Id) - rc0;
            await Task.Delay(300); // let the master reap its child (redis) / finish the snapshot thread (kv)
            double mcpu = CpuSeconds(master.Process.Id) - mc0;
            times[kv].Add(t);
            repCpu[kv].Add(rcpu);
            masCpu[kv].Add(mcpu);
            var dbsize = await rc.Text("DBSIZE");
            Console.WriteLine($"{name}: link up after {t:F2} s (replica dbsize {dbsize}); CPU replica {rcpu:F2} s, master {mcpu:F2} s; load {File.ReadAllText("/proc/loadavg").Split(' ')[0]}");
            replica.Dispose();
            nodes.Remove(replica);
        }
    }
    static double Median(List<double> l) { var s = l.OrderBy(x => x).ToList(); return s.Count % 2 == 1 ? s[s.Count / 2] : (s[s.Count / 2 - 1] + s[s.Count / 2]) / 2; }
    foreach (bool kv in kinds)
        Console.WriteLine($"{(kv ? "kv -> kv" : "redis -> redis")}: runs {string.Join(", ", times[kv].Select(x => x.ToString("F2", CultureInfo.InvariantCulture)))} s; median {Median(times[kv]):F2} s; median CPU replica {Median(repCpu[kv]):F2} s, master {Median(masCpu[kv]):F2} s");
    if (kinds.Length == 2) Console.WriteLine($"ratio kv/redis (medians): {Median(times[true]) / Median(times[false]):F2}");
    Console.WriteLine($"load average at end: {File.ReadAllText("/proc/loadavg").Trim()}");
    foreach (var m in masters.Values) { m.Dispose(); nodes.Remove(m); }
}

/// <summary>utime+stime+cutime+cstime of a process in seconds (/proc/PID/stat, 100 ticks per second).</summary>
static double CpuSeconds(int pid)
{
    var stat = File.ReadAllText($"/proc/{pid}/stat");
    var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    // After the command: state(0) ... utime(11) stime(12) cutime(13) cstime(14).
    long ticks = long.Parse(f[11], CultureInfo.InvariantCulture) + long.Parse(f[12], CultureInfo.InvariantCulture)
        + long.Parse(f[13], CultureInfo.InvariantCulture) + long.Parse(f[14], CultureInfo.InvariantCulture);
    return ticks / 100.0;
}

async Task LagBench()
{
    string requests = Opt("--requests", "2000000");
    foreach (bool kv in new[] { true, false })
    {
        var master = Start(kv);
        var replica = Start(kv, "--replicaof", "127.0.0.1", master.Port.ToString(CultureInfo.InvariantCulture));
        await WaitUp(replica);
        var psi = new ProcessStartInfo("/usr/bin/redis-benchmark", ["-p", master.Port.ToString(CultureInfo.InvariantCulture), "-t", "set", "-P", "16", "-n", requests, "-r", "100000", "-q"])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var bench = Process.Start(psi)!;
        var outTask = bench.StandardOutput.ReadToEndAsync();
        using var mc = await Resp.ConnectAsync(master.Port);
        using var rc = await Resp.ConnectAsync(replica.Port);
        // Byte lag, bracketed: the replica's offset is read just before and just after the master's, so the lag at
        // the instant the master answered lies between mo - ro2 (lower) and mo - ro1 (upper). Reading the master
        // first and the replica after (one bound only) makes a master that answers late look lag-free.
        var lower = new List<long>();
        var upper = new List<long>();
        // Visibility delay: a marker SET acknowledged by the master, then GETs on the replica until it shows.
        var visible = new List<double>();
        long seq = 0;
        while (!bench.HasExited)
        {
            await Task.Delay(100);
            long ro1 = ReplOffset(await rc.Text("INFO", "replication"), "slave_repl_offset");
            long mo = ReplOffset(await mc.Text("INFO", "replication"), "master_repl_offset");
            long ro2 = ReplOffset(await rc.Text("INFO", "replication"), "slave_repl_offset");
            upper.Add(Math.Max(0, mo - ro1));
            lower.Add(Math.Max(0, mo - ro2));
            string mark = (++seq).ToString(CultureInfo.InvariantCulture);
            await mc.Text("SET", "kv-replbench:mark", mark);
            long t0 = Stopwatch.GetTimestamp();
            while (await rc.Text("GET", "kv-replbench:mark") != mark)
                if (Stopwatch.GetElapsedTime(t0).TotalSeconds > 10) throw new TimeoutException("marker never reached the replica");
            visible.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        var output = (await outTask).Trim().Split('\r', '\n').Last(l => l.Length > 0);
        lower.Sort();
        upper.Sort();
        visible.Sort();
        var sw = Stopwatch.StartNew();
        while (true)
        {
            long mo = long.Parse(Info(await mc.Text("INFO", "replication"))["master_repl_offset"], CultureInfo.InvariantCulture);
            long ro = long.Parse(Info(await rc.Text("INFO", "replication"))["slave_repl_offset"], CultureInfo.InvariantCulture);
            if (mo == ro) break;
            await Task.Delay(5);
        }
        Console.WriteLine($"{(kv ? "kv -> kv" : "redis -> redis")}: {output}; {upper.Count} samples: lag KiB (lower-upper bound) " +
            $"median {lower[lower.Count / 2] / 1024.0:F1}-{upper[upper.Count / 2] / 1024.0:F1}, max {lower[^1] / 1024.0:F1}-{upper[^1] / 1024.0:F1}; " +
            $"write visible on the replica after (ms) median {visible[visible.Count / 2]:F2}, p90 {visible[(int)(visible.Count * 0.9)]:F2}, max {visible[^1]:F2}; " +
            $"caught up {sw.ElapsedMilliseconds} ms after the load ended");
        replica.Dispose();
        master.Dispose();
        nodes.Remove(replica);
        nodes.Remove(master);
    }
}

static long ReplOffset(string info, string field) => long.Parse(Info(info)[field], CultureInfo.InvariantCulture);

static async Task WaitUp(Node r)
{
    using var c = await Resp.ConnectAsync(r.Port);
    var sw = Stopwatch.StartNew();
    while (Info(await c.Text("INFO", "replication")).GetValueOrDefault("master_link_status") != "up")
    {
        if (sw.Elapsed.TotalSeconds > 60) throw new TimeoutException("replica link not up");
        await Task.Delay(50);
    }
}

static Dictionary<string, string> Info(string text)
{
    var d = new Dictionary<string, string>();
    foreach (var line in text.Split("\r\n"))
    {
        int i = line.IndexOf(':');
        if (i > 0 && !line.StartsWith('#')) d[line[..i]] = line[(i + 1)..];
    }
    return d;
}

static async Task<long> SteadyWriter(int port, int bytesPerSec, CancellationToken ct)
{
    using var c = await Resp.ConnectAsync(port);
    var value = new string('v', 1000);
    long written = 0;
    var sw = Stopwatch.StartNew();
    long n = 0;
    while (!ct.IsCancellationRequested)
    {
        // 50 SETs of ~1 KiB per batch, paced to the target rate.
        var batch = new List<string[]>();
        for (int i = 0; i < 50; i++) batch.Add(["SET", "key:" + (n++ % 20000), value]);
        await c.Pipeline(batch);
        written += 50 * 1030;
        double due = (double)written / bytesPerSec;
        var wait = due - sw.Elapsed.TotalSeconds;
        if (wait > 0) await Task.Delay(TimeSpan.FromSeconds(wait), CancellationToken.None);
    }
    return written;
}

static async Task Populate(int port, int keys)
{
    using var c = await Resp.ConnectAsync(port);
    var batch = new List<string[]>();
    for (int i = 0; i < keys; i++)
    {
        string k = "key:" + i.ToString(CultureInfo.InvariantCulture);
        switch (i % 10)
        {
            case 7: batch.Add(["HSET", k, "f1", "v" + i, "f2", "w"]); break;
            case 8: batch.Add(["RPUSH", k, "a", "b", "c"]); break;
            case 9: batch.Add(i % 20 == 9 ? ["SADD", k, "x", "y", i.ToString(CultureInfo.InvariantCulture)] : ["ZADD", k, "1", "a", "2", "b"]); break;
            default: batch.Add(["SET", k, "value-" + i.ToString(CultureInfo.InvariantCulture)]); break;
        }
        if (batch.Count == 2000)
        {
            await c.Pipeline(batch);
            batch.Clear();
        }
    }
    if (batch.Count > 0) await c.Pipeline(batch);
}

/// <summary>A started server process on a free port, killed on dispose.</summary>
sealed class Node : IDisposable
{
    public required Process Process { get; init; }
    public required int Port { get; init; }
    public required string Dir { get; init; }

    public static Node Start(string exe, bool kv, string[] extra)
    {
        int port;
        using (var l = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            l.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            port = ((IPEndPoint)l.LocalEndPoint!).Port;
        }
        var dir = Directory.CreateTempSubdirectory("kv-replbench-").FullName;
        var a = new List<string> { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", Path.Combine(dir, "log"), "--repl-diskless-sync-delay", "0" };
        a.AddRange(extra);
        var psi = new ProcessStartInfo(exe, a) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        var p = Process.Start(psi)!;
        p.OutputDataReceived += (_, _) => { };
        p.ErrorDataReceived += (_, _) => { };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        var sw = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                s.Connect(IPAddress.Loopback, port);
                break;
            }
            catch (SocketException) when (sw.Elapsed.TotalSeconds < 20) { Thread.Sleep(50); }
        }
        _ = kv;
        return new Node { Process = p, Port = port, Dir = dir };
    }

    public void Dispose()
    {
        try { if (!Process.HasExited) { Process.Kill(true); Process.WaitForExit(5000); } } catch (InvalidOperationException) { }
        try { Directory.Delete(Dir, true); } catch (IOException) { }
    }
}

/// <summary>Minimal pipelining RESP client.</summary>
sealed class Resp : IDisposable
{
    private readonly Socket _s;
    private readonly byte[] _buf = new byte[1 << 20];
    private int _pos, _len;

    private Resp(Socket s) => _s = s;

    public static async Task<Resp> ConnectAsync(int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await s.ConnectAsync(IPAddress.Loopback, port);
        return new Resp(s);
    }

    private static void Encode(StringBuilder sb, string[] args)
    {
        sb.Append('*').Append(args.Length).Append("\r\n");
        foreach (var a in args) sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
    }

    public async Task Pipeline(List<string[]> cmds)
    {
        var sb = new StringBuilder();
        foreach (var c in cmds) Encode(sb, c);
        await _s.SendAsync(Encoding.UTF8.GetBytes(sb.ToString()));
        for (int i = 0; i < cmds.Count; i++) await ReadReply();
    }

    public async Task<string> Text(params string[] args)
    {
        var sb = new StringBuilder();
        Encode(sb, args);
        await _s.SendAsync(Encoding.UTF8.GetBytes(sb.ToString()));
        return await ReadReply();
    }

    private async Task<string> Line()
    {
        while (true)
        {
            int nl = Array.IndexOf(_buf, (byte)'\n', _pos, _len - _pos);
            if (nl >= 0)
            {
                var s = Encoding.UTF8.GetString(_buf, _pos, nl - 1 - _pos);
                _pos = nl + 1;
                return s;
            }
            await Fill();
        }
    }

    private async Task Fill()
    {
        if (_pos > 0)
        {
            Buffer.BlockCopy(_buf, _pos, _buf, 0, _len - _pos);
            _len -= _pos;
            _pos = 0;
        }
        int n = await _s.ReceiveAsync(_buf.AsMemory(_len));
        if (n == 0) throw new IOException("closed");
        _len += n;
    }

    private async Task<string> ReadReply()
    {
        var line = await Line();
        switch (line[0])
        {
            case '$':
                int n = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                if (n < 0) return "";
                while (_len - _pos < n + 2) await Fill();
                var s = Encoding.UTF8.GetString(_buf, _pos, n);
                _pos += n + 2;
                return s;
            case '*':
                int m = int.Parse(line.AsSpan(1), CultureInfo.InvariantCulture);
                var parts = new List<string>();
                for (int i = 0; i < m; i++) parts.Add(await ReadReply());
                return string.Join(",", parts);
            default:
                return line[1..];
        }
    }

    public void Dispose() => _s.Dispose();
}
