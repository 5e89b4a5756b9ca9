using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Kv.Bench;

// kv-bench: starts kv-server and redis-server 7.0.15 on free loopback ports, runs redis-benchmark
// (-t set,get,incr,lpush,lpop,sadd,hset,zadd -c 50 -n N -q --csv) with -P 1 and -P 16 against each, R rounds,
// prints the table of median requests/s with the kv/redis ratio, writes a PNG bar chart (ScottPlot), then loads 1,000,000 small string
// keys into each and reports INFO memory used_memory and the process RSS. See docs/BENCHMARKS.md ("## Kv").
var opt = Options.Parse(args);
if (opt is null) return 2;
var inv = CultureInfo.InvariantCulture;
Directory.CreateDirectory(opt.OutDir);
Console.WriteLine($"kv-bench: n={opt.Requests} n16={opt.Requests16} rounds={opt.Rounds} clients=50 tests={opt.Tests} keys={opt.Keys} out={opt.OutDir}");
Console.WriteLine($"kv-server: {opt.KvServer}\nredis-server: {opt.RedisServer}\nredis-benchmark: {opt.RedisBenchmark}");

await using var redis = await Server.StartAsync("redis", opt.RedisServer);
await using var kv = await Server.StartAsync("kv", opt.KvServer);
var servers = new[] { redis, kv };

// Every (server, pipeline) run is repeated opt.Rounds times, alternating which server goes first, and the median is
// reported (the machine is shared and noisy; a single short run can be off by 30%). -P 16 runs opt.Requests16
// requests so that each run lasts about as long as a -P 1 run.
var samples = new Dictionary<(string Server, int Pipeline, string Test), List<double>>();
for (int round = 0; round < opt.Rounds; round++)
{
    foreach (int p in new[] { 1, 16 })
    {
        var order = round % 2 == 0 ? servers : servers.Reverse().ToArray();
        foreach (var s in order)
        {
            await s.CommandAsync("FLUSHALL");
            int n = p == 1 ? opt.Requests : opt.Requests16;
            var csv = await Tool.RunAsync(opt.RedisBenchmark,
                ["-p", s.Port.ToString(inv), "-t", opt.Tests, "-c", "50", "-n", n.ToString(inv), "-P", p.ToString(inv), "-q", "--csv"]);
            foreach (var (test, rps) in ParseCsv(csv))
            {
                if (!samples.TryGetValue((s.Name, p, test), out var list)) samples[(s.Name, p, test)] = list = [];
                list.Add(rps);
            }
            Console.WriteLine($"  round {round + 1} {s.Name,-5} -P {p,-2}: {string.Join("  ", ParseCsv(csv).Select(r => $"{r.Test}={r.Rps:F0}"))}");
        }
    }
}
var results = samples.ToDictionary(kv => kv.Key, kv => Median(kv.Value));
string Range((string, int, string) key) => samples.TryGetValue(key, out var l) ? $"{l.Min():F0}-{l.Max():F0}" : "";

var tests = results.Keys.Select(k => k.Test).Distinct().ToList();
var table = new StringBuilder();
table.AppendLine("| test | pipeline | redis 7.0.15 req/s (median) | kv req/s (median) | kv/redis | redis range | kv range |");
table.AppendLine("|---|---|---:|---:|---:|---:|---:|");
foreach (int p in new[] { 1, 16 })
    foreach (var t in tests)
    {
        results.TryGetValue(("redis", p, t), out var r);
        results.TryGetValue(("kv", p, t), out var k);
        table.AppendLine(inv, $"| {t} | {p} | {r:F0} | {k:F0} | {(r > 0 ? k / r : 0):F2} | {Range(("redis", p, t))} | {Range(("kv", p, t))} |");
    }
Console.WriteLine();
Console.Write(table);

var chart = Path.Combine(opt.OutDir, "kv-bench.png");
Chart.Write(chart, tests, results);
Console.WriteLine($"\nchart: {chart}");

var memTable = new StringBuilder();
if (opt.Keys > 0)
{
    memTable.AppendLine("| server | keys | used_memory (empty) | used_memory (loaded) | per key | RSS (loaded) | kv/redis used_memory |");
    memTable.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
    var mem = new Dictionary<string, (long Empty, long Loaded, long Rss, long Keys)>();
    foreach (var s in servers)
    {
        await s.CommandAsync("FLUSHALL");
        await Task.Delay(500);
        long empty = UsedMemory(await s.CommandAsync("INFO", "memory"));
        var sw = Stopwatch.StartNew();
        await s.LoadKeysAsync(opt.Keys);
        Console.WriteLine($"  loaded {opt.Keys} keys into {s.Name} in {sw.Elapsed.TotalSeconds:F1} s");
        await Task.Delay(1000);
        long loaded = UsedMemory(await s.CommandAsync("INFO", "memory"));
        long keys = long.Parse(Resp.Text(await s.CommandAsync("DBSIZE")), inv);
        mem[s.Name] = (empty, loaded, s.RssBytes(), keys);
    }
    foreach (var s in servers)
    {
        var m = mem[s.Name];
        double ratio = (double)mem["kv"].Loaded / mem["redis"].Loaded;
        memTable.AppendLine(inv, $"| {s.Name} | {m.Keys:N0} | {Mb(m.Empty)} | {Mb(m.Loaded)} | {(double)(m.Loaded - m.Empty) / Math.Max(1, m.Keys):F1} B | {Mb(m.Rss)} | {(s.Name == "kv" ? ratio.ToString("F2", inv) : "")} |");
    }
    Console.WriteLine();
    Console.Write(memTable);
}

var report = Path.Combine(opt.OutDir, "kv-bench.md");
File.WriteAllText(report, $"kv-bench n={opt.Requests} (P16: {opt.Requests16}) c=50 rounds={opt.Rounds}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, {Environment.ProcessorCount} cores\n\n{table}\n{memTable}");
Console.WriteLine($"\nreport: {report}");
return 0;

static double Median(List<double> values)
{
    var v = values.Order().ToList();
    return v.Count % 2 == 1 ? v[v.Count / 2] : (v[v.Count / 2 - 1] + v[v.Count / 2]) / 2;
}

static string Mb(long bytes) => (bytes / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) + " MB";

static long UsedMemory(byte[] info)
{
    foreach (var line in Resp.Text(info).Split('\n'))
        if (line.StartsWith("used_memory:", StringComparison.Ordinal))
            return long.Parse(line["used_memory:".Length..].Trim(), CultureInfo.InvariantCulture);
    throw new InvalidOperationException("INFO memory has no used_memory");
}

static IEnumerable<(string Test, double Rps)> ParseCsv(string csv)
{
    foreach (var line in csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
    {
        var cols = line.Split(',').Select(c => c.Trim('"')).ToArray();
        if (cols.Length < 2 || cols[0] == "test") continue;
        if (double.TryParse(cols[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var rps))
            yield return (cols[0].Split(' ')[0], rps);
    }
}

namespace Kv.Bench
{
    /// <summary>Command-line options.</summary>
    internal sealed record Options(int Requests, int Requests16, int Rounds, long Keys, string Tests, string OutDir, string KvServer, string RedisServer, string RedisBenchmark)
    {
        public static Options? Parse(string[] args)
        {
            int n = 100_000;
            int? n16 = null;
            int rounds = 3;
            long keys = 1_000_000;
            string tests = "set,get,incr,lpush,lpop,sadd,hset,zadd";
            string outDir = Path.Combine("artifacts", "kv-bench");
            string? kvPath = null;
            string redisPath = "/usr/bin/redis-server", benchPath = "/usr/bin/redis-benchmark";
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                switch (args[i])
                {
                    case "-n": n = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--n16": n16 = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "--rounds": rounds = Math.Max(1, int.Parse(Next(), CultureInfo.InvariantCulture)); break;
                    case "--keys": keys = long.Parse(Next(), CultureInfo.InvariantCulture); break;
                    case "-t": tests = Next(); break;
                    case "--out": outDir = Next(); break;
                    case "--kv-server": kvPath = Next(); break;
                    case "--redis-server": redisPath = Next(); break;
                    case "--redis-benchmark": benchPath = Next(); break;
                    default:
                        Console.Error.WriteLine($"unknown option {args[i]}\nusage: kv-bench [-n requests] [--n16 requests at -P 16 (default 10 x n)] [--rounds R (default 3, median)] [--keys N (0 = skip memory)] [-t tests] [--out dir] [--kv-server path] [--redis-server path] [--redis-benchmark path]");
                        return null;
                }
            }
            kvPath ??= Path.Combine(AppContext.BaseDirectory, "kv-server");
            if (!File.Exists(kvPath)) { Console.Error.WriteLine($"kv-server not found at {kvPath} (build bench/Kv.Bench or pass --kv-server)"); return null; }
            return new Options(n, n16 ?? n * 10, rounds, keys, tests, outDir, kvPath, redisPath, benchPath);
        }
    }

    /// <summary>Runs a tool and returns its stdout; throws on a non-zero exit.</summary>
    internal static class Tool
    {
        public static async Task<string> RunAsync(string exe, IEnumerable<string> args)
        {
            var psi = new ProcessStartInfo(exe) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var a in args) psi.ArgumentList.Add(a);
            using var p = Process.Start(psi)!;
            var o = p.StandardOutput.ReadToEndAsync();
            var e = p.StandardError.ReadToEndAsync();
            await p.WaitForExitAsync();
            if (p.ExitCode != 0) throw new InvalidOperationException($"{exe} exited {p.ExitCode}: {await e}");
            return await o;
        }
    }

    /// <summary>A server child process on a free loopback port with a temp --dir, killed on dispose.</summary>
    internal sealed class Server : IAsyncDisposable
    {
        private readonly Process _p;
        private readonly string _dir;
        private Socket? _sock;
        private readonly byte[] _rx = new byte[1 << 20];

        private Server(string name, Process p, int port, string dir) { Name = name; _p = p; Port = port; _dir = dir; }

        public string Name { get; }
        public int Port { get; }

        public static async Task<Server> StartAsync(string name, string exe)
        {
            int port;
            using (var l = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
            {
                l.Bind(new IPEndPoint(IPAddress.Loopback, 0));
                port = ((IPEndPoint)l.LocalEndPoint!).Port;
            }
            var dir = Directory.CreateTempSubdirectory($"kv-bench-{name}-").FullName;
            var psi = new ProcessStartInfo(exe) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
            foreach (var a in new[] { "--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir, "--logfile", "" })
                psi.ArgumentList.Add(a);
            var p = Process.Start(psi)!;
            p.OutputDataReceived += (_, _) => { };
            p.ErrorDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
            p.BeginErrorReadLine();
            var s = new Server(name, p, port, dir);
            var sw = Stopwatch.StartNew();
            while (true)
            {
                try
                {
                    var r = await s.CommandAsync("PING");
                    if (Resp.Text(r) == "PONG") return s;
                }
                catch (SocketException) { s._sock?.Dispose(); s._sock = null; }
                if (p.HasExited || sw.Elapsed > TimeSpan.FromSeconds(30)) throw new InvalidOperationException($"{name} did not start");
                await Task.Delay(50);
            }
        }

        private async Task<Socket> SockAsync()
        {
            if (_sock is not null) return _sock;
            var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
            await s.ConnectAsync(new IPEndPoint(IPAddress.Loopback, Port));
            return _sock = s;
        }

        /// <summary>Sends one command and returns its reply (simple framing: one reply, no nested aggregates needed).</summary>
        public async Task<byte[]> CommandAsync(params string[] args)
        {
            var s = await SockAsync();
            await s.SendAsync(Resp.Encode(args));
            var buf = new MemoryStream();
            while (true)
            {
                int n = await s.ReceiveAsync(_rx);
                if (n == 0) throw new SocketException((int)SocketError.ConnectionReset);
                buf.Write(_rx, 0, n);
                if (Resp.Complete(buf.GetBuffer().AsSpan(0, (int)buf.Length)) > 0) return buf.ToArray();
            }
        }

        /// <summary>Writes key:000000000000.. key:N-1 with 3-byte values ("xxx", redis-benchmark's default size) in pipelined batches.</summary>
        public async Task LoadKeysAsync(long count)
        {
            var s = await SockAsync();
            const int batch = 2000;
            var ms = new MemoryStream();
            for (long i = 0; i < count; i += batch)
            {
                ms.SetLength(0);
                long end = Math.Min(count, i + batch);
                for (long j = i; j < end; j++)
                {
                    var key = "key:" + j.ToString("D12", CultureInfo.InvariantCulture);
                    ms.Write(Encoding.ASCII.GetBytes($"*3\r\n$3\r\nSET\r\n${key.Length}\r\n{key}\r\n$3\r\nxxx\r\n"));
                }
                await s.SendAsync(ms.ToArray());
                long want = (end - i) * 5; // "+OK\r\n" each
                long got = 0;
                while (got < want)
                {
                    int n = await s.ReceiveAsync(_rx);
                    if (n == 0) throw new SocketException((int)SocketError.ConnectionReset);
                    if (_rx[0] != (byte)'+') throw new InvalidOperationException("loader got: " + Encoding.ASCII.GetString(_rx, 0, Math.Min(n, 200)));
                    got += n;
                }
            }
        }

        /// <summary>Resident set size of the server process (VmRSS).</summary>
        public long RssBytes()
        {
            foreach (var line in File.ReadLines($"/proc/{_p.Id}/status"))
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            return 0;
        }

        public ValueTask DisposeAsync()
        {
            _sock?.Dispose();
            try { if (!_p.HasExited) { _p.Kill(entireProcessTree: true); _p.WaitForExit(5000); } } catch (InvalidOperationException) { }
            _p.Dispose();
            try { Directory.Delete(_dir, true); } catch (IOException) { }
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>Minimal RESP helpers for the benchmark driver.</summary>
    internal static class Resp
    {
        public static byte[] Encode(string[] args)
        {
            var sb = new StringBuilder().Append('*').Append(args.Length).Append("\r\n");
            foreach (var a in args) sb.Append('$').Append(Encoding.UTF8.GetByteCount(a)).Append("\r\n").Append(a).Append("\r\n");
            return Encoding.UTF8.GetBytes(sb.ToString());
        }

        /// <summary>Length of a complete simple/bulk/integer reply, or 0 if more bytes are needed.</summary>
        public static int Complete(ReadOnlySpan<byte> b)
        {
            int nl = b.IndexOf("\r\n"u8);
            if (nl < 0) return 0;
            if (b[0] != (byte)'$') return nl + 2;
            int len = int.Parse(Encoding.ASCII.GetString(b[1..nl]), CultureInfo.InvariantCulture);
            if (len < 0) return nl + 2;
            return b.Length >= nl + 2 + len + 2 ? nl + 2 + len + 2 : 0;
        }

        public static string Text(byte[] reply)
        {
            int nl = reply.AsSpan().IndexOf("\r\n"u8);
            if (reply[0] != (byte)'$') return Encoding.UTF8.GetString(reply, 1, nl - 1);
            int len = int.Parse(Encoding.ASCII.GetString(reply, 1, nl - 1), CultureInfo.InvariantCulture);
            return Encoding.UTF8.GetString(reply, nl + 2, len);
        }
    }

    /// <summary>Grouped bar chart of requests/s (redis vs kv) per test and pipeline depth.</summary>
    internal static class Chart
    {
        public static void Write(string path, List<string> tests, Dictionary<(string Server, int Pipeline, string Test), double> results)
        {
            var plt = new ScottPlot.Plot();
            var redisColor = ScottPlot.Color.FromHex("#d62728");
            var kvColor = ScottPlot.Color.FromHex("#1f77b4");
            var bars = new List<ScottPlot.Bar>();
            var ticks = new List<ScottPlot.Tick>();
            double x = 0;
            foreach (int p in new[] { 1, 16 })
            {
                foreach (var t in tests)
                {
                    results.TryGetValue(("redis", p, t), out var r);
                    results.TryGetValue(("kv", p, t), out var k);
                    bars.Add(new ScottPlot.Bar { Position = x, Value = r, FillColor = redisColor });
                    bars.Add(new ScottPlot.Bar { Position = x + 1, Value = k, FillColor = kvColor });
                    ticks.Add(new ScottPlot.Tick(x + 0.5, $"{t.ToUpperInvariant()}\nP{p}"));
                    x += 3;
                }
                x += 1;
            }
            plt.Add.Bars(bars);
            plt.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks.ToArray());
            plt.Axes.Bottom.MajorTickStyle.Length = 0;
            plt.Axes.Margins(bottom: 0);
            plt.Title("redis-benchmark -c 50: redis-server 7.0.15 (red) vs kv-server (blue)");
            plt.YLabel("requests per second");
            plt.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = "redis-server 7.0.15", FillColor = redisColor });
            plt.Legend.ManualItems.Add(new ScottPlot.LegendItem { LabelText = "kv-server", FillColor = kvColor });
            plt.ShowLegend(ScottPlot.Alignment.UpperLeft);
            plt.SavePng(path, 1600, 700);
        }
    }
}
