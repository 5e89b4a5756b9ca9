// adb host benchmark: push and pull of one large file on loopback, our client+server against Debian's
// client+server (/usr/bin/adb 29.0.6), both talking to our adbd. Prints MB/s per run and the ratio.
//
// Usage: adb-host-bench [--size-mb N] [--runs N] [--dir PATH] [--ours PATH-TO-OUR-ADB]
// Besides wall-clock MB/s it prints the per-round ratio (and its median), the transfer-only rate from each client's summary
// line, and CPU seconds per command of client, server and adbd.
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Adb.Protocol;

int sizeMb = 1024, runs = 2;
string baseDir = Path.GetTempPath();
string? oursArg = null; // another build of our adb (e.g. -p:AdbNativeAot=false) instead of the one next to the bench
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--size-mb") sizeMb = int.Parse(args[++i]);
    else if (args[i] == "--runs") runs = int.Parse(args[++i]);
    else if (args[i] == "--dir") baseDir = args[++i];
    else if (args[i] == "--ours") oursArg = Path.GetFullPath(args[++i]);
    else if (args[i] is "--help" or "-h")
    {
        Console.WriteLine("""
            usage: adb-host-bench [--size-mb N] [--runs N] [--dir PATH] [--ours PATH-TO-OUR-ADB]
              --size-mb N   size of the pushed/pulled file in MiB (default 1024)
              --runs N      rounds; each times push and pull for Debian/Debian, ours/ours and both mixed pairings (default 2)
              --dir PATH    where the test folder goes (default $TMPDIR; /dev/shm keeps the disk out of it)
              --ours PATH   our adb to use as client and server (default: the adb next to this program)
            prints best MB/s per pairing, per-round ratios ours/Debian and their median, transfer-only MB/s from each
            client's summary line, and CPU seconds per command of client, server and adbd.
            """);
        return 0;
    }
    else throw new ArgumentException($"unknown option {args[i]} (see --help)");
}

string root = Path.Combine(baseDir, "adb-host-bench-" + Environment.ProcessId);
string home = Path.Combine(root, "home"), tmp = Path.Combine(root, "tmp"), host = Path.Combine(root, "host"), dev = Path.Combine(root, "device");
foreach (string d in new[] { home, tmp, host, dev }) Directory.CreateDirectory(d);
var owned = new List<Process>();
string bin = AppContext.BaseDirectory;

ProcessStartInfo Info(string file, params string[] a)
{
    var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, WorkingDirectory = root };
    foreach (var x in a) psi.ArgumentList.Add(x);
    psi.Environment["HOME"] = home;
    psi.Environment["TMPDIR"] = tmp;
    psi.Environment["ADB_EMU"] = "0";
    psi.Environment["ADB_MDNS"] = "0";
    psi.Environment.Remove("ANDROID_SERIAL");
    psi.Environment.Remove("ANDROID_ADB_SERVER_PORT");
    return psi;
}

Process Start(ProcessStartInfo psi)
{
    var p = Process.Start(psi)!;
    p.StandardInput.Close();
    _ = p.StandardOutput.BaseStream.CopyToAsync(Stream.Null);
    _ = p.StandardError.BaseStream.CopyToAsync(Stream.Null);
    owned.Add(p);
    return p;
}

(int code, string output) Run(ProcessStartInfo psi)
{
    using var p = Process.Start(psi)!;
    p.StandardInput.Close();
    var err = p.StandardError.ReadToEndAsync();
    string o = p.StandardOutput.ReadToEnd();
    p.WaitForExit();
    return (p.ExitCode, o + err.Result);
}

int FreePort()
{
    var l = new TcpListener(IPAddress.Loopback, 0);
    l.Start();
    int p = ((IPEndPoint)l.LocalEndpoint).Port;
    l.Stop();
    return p < 5600 ? FreePort() : p;
}

void WaitPort(int port)
{
    var sw = Stopwatch.StartNew();
    while (sw.ElapsedMilliseconds < 20000)
    {
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        try { s.Connect(IPAddress.Loopback, port); return; } catch (SocketException) { Thread.Sleep(50); }
    }
    throw new TimeoutException($"port {port}");
}

string ours = oursArg ?? (File.Exists(Path.Combine(bin, "adb")) ? Path.Combine(bin, "adb") : throw new FileNotFoundException("adb apphost next to the bench"));
string adbd = Path.Combine(bin, "adbd");
try
{
    using (var key = AdbKey.LoadOrCreate(Path.Combine(home, ".android", "adbkey"), "bench@adbhost"))
        File.WriteAllText(Path.Combine(root, "adb_keys"), key.PublicKeyLine("bench@adbhost") + "\n");
    int adbdPort = FreePort();
    var adbdProc = Start(Info(adbd, "--port", adbdPort.ToString(), "--keys", Path.Combine(root, "adb_keys"), "--user", "root"));
    WaitPort(adbdPort);
    int debianPort = FreePort();
    var debianServer = Start(Info("/usr/bin/adb", "-L", $"tcp:{debianPort}", "server", "nodaemon"));
    int oursPort = FreePort();
    var oursServer = Start(Info(ours, "-P", oursPort.ToString(), "server", "nodaemon"));
    WaitPort(debianPort);
    WaitPort(oursPort);
    string serial = $"127.0.0.1:{adbdPort}";
    foreach (var (exe, port) in new[] { ("/usr/bin/adb", debianPort), (ours, oursPort) })
    {
        Run(Info(exe, "-P", port.ToString(), "connect", serial));
        var w = Run(Info(exe, "-P", port.ToString(), "-s", serial, "wait-for-device"));
        if (w.code != 0) throw new InvalidOperationException("wait-for-device: " + w.output);
    }

    string src = Path.Combine(host, "big.bin");
    Console.WriteLine($"creating {sizeMb} MiB test file...");
    using (var fs = new FileStream(src, FileMode.Create))
    {
        byte[] chunk = new byte[1 << 20];
        var rnd = new Random(42);
        for (int i = 0; i < sizeMb; i++) { rnd.NextBytes(chunk); fs.Write(chunk); }
    }
    long size = new FileInfo(src).Length;

    var results = new Dictionary<string, List<double>>();
    var transfer = new Dictionary<string, List<double>>();
    void Add(string k, double v) { if (!results.TryGetValue(k, out var l)) results[k] = l = []; l.Add(v); }
    void AddTransfer(string k, double v) { if (!transfer.TryGetValue(k, out var l)) transfer[k] = l = []; l.Add(v); }
    // CPU seconds per command: the client from getrusage(RUSAGE_CHILDREN) (only waited-for children count, i.e. the
    // clients), the server and adbd from /proc/PID/stat utime+stime.
    var cpu = new Dictionary<string, List<(double Client, double Server, double Adbd)>>();

    // Wall clock of the whole command (process start included); the client's own summary line
    // "... (B bytes in S.SSSs)" also gives the transfer alone (both clients time from the first sync request).
    double Time(string key, string exe, int port, params string[] a)
    {
        var server = port == debianPort ? debianServer : oursServer;
        double c0 = ChildrenCpu(), s0 = ProcCpu(server.Id), a0 = ProcCpu(adbdProc.Id);
        var sw = Stopwatch.StartNew();
        var (code, output) = Run(Info(exe, ["-P", port.ToString(), "-s", serial, .. a]));
        sw.Stop();
        if (!cpu.TryGetValue(key, out var cl)) cpu[key] = cl = [];
        cl.Add((ChildrenCpu() - c0, ProcCpu(server.Id) - s0, ProcCpu(adbdProc.Id) - a0));
        if (code != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', a)} failed: {output}");
        var m = System.Text.RegularExpressions.Regex.Match(output, @"\((\d+) bytes in ([0-9.]+)s\)");
        if (m.Success && double.TryParse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture, out double secs) && secs > 0)
            AddTransfer(key, long.Parse(m.Groups[1].Value) / secs / (1024 * 1024));
        return size / sw.Elapsed.TotalSeconds / (1024 * 1024);
    }

    for (int r = 0; r < runs; r++)
    {
        // Side by side in each round; the mixed pairings show which half (client or server) costs what.
        foreach (var (name, exe, port) in new[] { ("debian", "/usr/bin/adb", debianPort), ("ours", ours, oursPort),
                     ("debian-client/our-server", "/usr/bin/adb", oursPort), ("our-client/debian-server", ours, debianPort) })
        {
            string remote = Path.Combine(dev, $"big-{name.Replace('/', '_')}.bin");
            string back = Path.Combine(host, $"back-{name.Replace('/', '_')}.bin");
            Add($"{name} push", Time($"{name} push", exe, port, "push", src, remote));
            if (new FileInfo(remote).Length != size) throw new InvalidOperationException("pushed size mismatch");
            Add($"{name} pull", Time($"{name} pull", exe, port, "pull", remote, back));
            if (new FileInfo(back).Length != size) throw new InvalidOperationException("pulled size mismatch");
            File.Delete(remote);
            File.Delete(back);
        }
    }
    Console.WriteLine($"file size: {size} bytes ({sizeMb} MiB), runs: {runs}, best MB/s (MiB/s) per pairing, wall clock of the adb command");
    Console.WriteLine($"{"op",-6} {"debian",10} {"ours",10} {"ours/debian",12}");
    foreach (string op in new[] { "push", "pull" })
    {
        double d = results[$"debian {op}"].Max(), o = results[$"ours {op}"].Max();
        Console.WriteLine($"{op,-6} {d,10:0.0} {o,10:0.0} {o / d,12:0.00}");
    }
    // Per round, ours over Debian's in the same round (back to back, so both saw about the same machine load).
    foreach (string op in new[] { "push", "pull" })
    {
        var d = results[$"debian {op}"]; var o = results[$"ours {op}"];
        Console.WriteLine($"{op} ours/debian per round: " + string.Join(" ", d.Zip(o, (x, y) => (y / x).ToString("0.00"))));
    }
    Console.WriteLine("transfer only (client's summary line, process start excluded), best MB/s: " + string.Join(", ",
        transfer.Where(kv => !kv.Key.Contains('/')).Select(kv => $"{kv.Key} {kv.Value.Max():0.0}")));
    Console.WriteLine("mixed pairings (best MB/s): " + string.Join(", ", results.Where(kv => kv.Key.Contains('/'))
        .Select(kv => $"{kv.Key} {kv.Value.Max():0.0}")));
    Console.WriteLine("CPU seconds per command, median of rounds (client / server / adbd):");
    foreach (var kv in cpu)
    {
        static double Med(IEnumerable<double> v) { var a = v.Order().ToArray(); return a.Length % 2 == 1 ? a[a.Length / 2] : (a[a.Length / 2 - 1] + a[a.Length / 2]) / 2; }
        Console.WriteLine($"  {kv.Key,-32} {Med(kv.Value.Select(x => x.Client)):0.000} / {Med(kv.Value.Select(x => x.Server)):0.000} / {Med(kv.Value.Select(x => x.Adbd)):0.000}");
    }
    foreach (string op in new[] { "push", "pull" })
    {
        var d = results[$"debian {op}"].Zip(results[$"ours {op}"], (x, y) => y / x).Order().ToArray();
        Console.WriteLine($"{op} ours/debian per round, median: {(d.Length % 2 == 1 ? d[d.Length / 2] : (d[d.Length / 2 - 1] + d[d.Length / 2]) / 2):0.00}");
    }
    Console.WriteLine("all runs: " + string.Join("; ", results.Select(kv => $"{kv.Key} [{string.Join(" ", kv.Value.Select(v => v.ToString("0")))}]")));
    return 0;
}
finally
{
    foreach (var p in owned) { try { if (!p.HasExited) p.Kill(true); p.WaitForExit(5000); } catch { } }
    try { Directory.Delete(root, true); } catch { }
}

static double ProcCpu(int pid)
{
    // Fields after the ")" of the command name: state is field 3, utime 14, stime 15 (clock ticks, 100 Hz on Linux).
    string stat = File.ReadAllText($"/proc/{pid}/stat");
    string[] f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return (long.Parse(f[11]) + long.Parse(f[12])) / 100.0;
}

static double ChildrenCpu()
{
    var ru = new long[18];
    _ = Native.getrusage(-1, ru); // RUSAGE_CHILDREN
    return ru[0] + ru[1] / 1e6 + ru[2] + ru[3] / 1e6;
}

static partial class Native
{
    [DllImport("libc", SetLastError = true)]
    public static extern int getrusage(int who, long[] usage);
}
