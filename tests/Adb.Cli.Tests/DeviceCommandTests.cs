using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

namespace Adb.Cli.Tests;

/// <summary>
/// Device commands through each client/server pairing that involves our code, against our adbd:
/// Debian client → our server, our client → Debian server, our client → our server. Debian client → Debian server
/// gives the expected outputs.
/// </summary>
[Collection("adb")]
public sealed partial class DeviceCommandTests(AdbEnvironment env)
{
    public static TheoryData<ClientKind, ServerKind> Pairs => new()
    {
        { ClientKind.Debian, ServerKind.Ours },
        { ClientKind.Ours, ServerKind.Debian },
        { ClientKind.Ours, ServerKind.Ours },
    };

    private Task<RunResult> Adb(ClientKind c, ServerKind s, params string[] args) => env.AdbAsync(c, s, ["-s", env.Serial, .. args]);

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Shell_StdoutStderrExitCode_MatchDebian(ClientKind c, ServerKind s)
    {
        foreach (string cmd in (string[])["echo hello", "exit 3", "echo out; echo err >&2; exit 7", "printf 'a\\0b'", "true"])
        {
            var expected = await Adb(ClientKind.Debian, ServerKind.Debian, "shell", cmd);
            var actual = await Adb(c, s, "shell", cmd);
            Assert.True(expected.Code == actual.Code, $"'{cmd}': expected {expected}, got {actual}");
            Assert.Equal(expected.StdoutBytes, actual.StdoutBytes);
            Assert.Equal(expected.Stderr, actual.Stderr);
        }
    }

    [Theory]
    [InlineData(ClientKind.Debian, ServerKind.Debian)]
    [InlineData(ClientKind.Ours, ServerKind.Ours)]
    public async Task Shell_OutputRedirectedToAFile_AppendsAtTheFileOffset(ClientKind c, ServerKind s)
    {
        // Two shells and an exec-out writing into one file in turn: each write must land at the descriptor's offset
        // (a positional write from offset 0 kept only the last output).
        int port = s == ServerKind.Debian ? env.DebianPort : env.OursPort;
        string adb = c == ClientKind.Debian ? "/usr/bin/adb" : Path.Combine(AdbEnvironment.BinDir, "adb");
        string file = Path.Combine(Path.GetTempPath(), $"adb-shell-out-{Guid.NewGuid():N}.txt");
        try
        {
            string a = $"{adb} -P {port} -s {env.Serial}";
            // (stdout and stderr of one shell are separate streams with no order between them: one per command.)
            var r = await Proc.RunAsync(Proc.Info("/bin/bash", ["-c", $"{{ {a} shell echo first; {a} shell 'echo second >&2'; {a} shell echo third; {a} exec-out echo fourth; echo fifth; }} > {file} 2>&1"], env));
            Assert.True(r.Code == 0, r.ToString());
            Assert.Equal("first\nsecond\nthird\nfourth\nfifth\n", File.ReadAllText(file));
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task ShellWithoutProtocol_DashX_MergedOutputExitZero(ClientKind c, ServerKind s)
    {
        foreach (string cmd in (string[])["echo out; echo err >&2; exit 4"])
        {
            var expected = await Adb(ClientKind.Debian, ServerKind.Debian, "shell", "-x", cmd);
            var actual = await Adb(c, s, "shell", "-x", cmd);
            Assert.Equal(expected.Code, actual.Code);
            Assert.Equal(expected.Stdout, actual.Stdout);
            Assert.Equal(expected.Stderr, actual.Stderr);
        }
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Shell_StdinIsForwarded(ClientKind c, ServerKind s)
    {
        byte[] input = Encoding.UTF8.GetBytes("line one\nline two ü\n");
        var r = await env.AdbInAsync(c, s, input, "-s", env.Serial, "shell", "cat");
        Assert.Equal(0, r.Code);
        Assert.Equal(input, r.StdoutBytes);
    }

    [Theory]
    [InlineData(ClientKind.Debian, ServerKind.Debian)]
    [InlineData(ClientKind.Ours, ServerKind.Ours)]
    [InlineData(ClientKind.Ours, ServerKind.Debian)]
    public async Task InteractiveShell_UnderPty_RawModeWindowSizeAndExitCode(ClientKind c, ServerKind s)
    {
        // script(1) gives the client a terminal; the client must switch it to raw mode (one echo only, from the
        // remote PTY), send the window size and return the remote exit code.
        int port = s == ServerKind.Debian ? env.DebianPort : env.OursPort;
        string adb = c == ClientKind.Debian ? "/usr/bin/adb" : Path.Combine(AdbEnvironment.BinDir, "adb");
        string inner = $"stty rows 33 cols 101; {adb} -P {port} -s {env.Serial} shell";
        string outer = "(sleep 3; printf 'echo marker$((40+2))\n'; sleep 1; printf 'stty size; exit 5\n'; sleep 2) | script -qec \"" + inner + "\" /dev/null";
        var r = await Proc.RunAsync(Proc.Info("/bin/bash", ["-c", outer], env));
        string o = r.Stdout;
        Assert.True(r.Code == 5, r.ToString());
        Assert.Contains("marker42\r\n", o);
        Assert.Contains("33 101\r\n", o);
        Assert.Equal(1, o.Split("echo marker").Length - 1);
        Assert.DoesNotContain("\u001b[?1h", o);
    }

    [Fact]
    public async Task PushPull_OnTerminal_DrawsDebiansLines()
    {
        // On a terminal AOSP's LinePrinter draws "\r[NNN%] FILE[: NN%]\e[K" per 64 KiB and ends with
        // "\r<summary>\e[K" + "\n". Ours may skip repaints (same text, or pull's 1 MiB batches) but every line it
        // draws must be one Debian draws for the same transfer, the summaries must match, and no keypad sequence.
        string src = Path.Combine(env.HostDir, "ttytree");
        Directory.CreateDirectory(src);
        File.WriteAllBytes(Path.Combine(src, "a.bin"), Content(700_000, 3));
        File.WriteAllBytes(Path.Combine(src, "b.bin"), Content(300_000, 4));
        var drawn = new Dictionary<ClientKind, List<string>[]>();
        foreach (var c in new[] { ClientKind.Debian, ClientKind.Ours })
        {
            int port = c == ClientKind.Debian ? env.DebianPort : env.OursPort;
            string adb = c == ClientKind.Debian ? "/usr/bin/adb" : Path.Combine(AdbEnvironment.BinDir, "adb");
            string dev = Path.Combine(env.DeviceDir, "tty-" + c);
            string back = Path.Combine(env.HostDir, "ttyback-" + c);
            Directory.CreateDirectory(dev);
            Directory.CreateDirectory(back);
            var lists = new List<string>[3];
            string[] cmds = [$"push {src} {dev}", $"pull {dev}/ttytree/a.bin {back}/a.bin", $"pull {dev}/ttytree {back}"];
            for (int i = 0; i < cmds.Length; i++)
            {
                string inner = $"stty cols 250; {adb} -P {port} -s {env.Serial} {cmds[i]}";
                var r = await Proc.RunAsync(Proc.Info("script", ["-qec", inner, "/dev/null"], env));
                Assert.True(r.Code == 0, r.ToString());
                Assert.DoesNotContain("\u001b[?1h", r.Stdout);
                lists[i] = [.. r.Stdout.Split('\r').Select(l => NormalizeRate(l.Replace(c == ClientKind.Debian ? "tty-Debian" : "tty-Ours", "tty-X")))
                    .Where(l => l.Length > 0 && l != "\n")];
            }
            drawn[c] = lists;
        }
        for (int i = 0; i < 3; i++)
        {
            var debian = drawn[ClientKind.Debian][i];
            var ours = drawn[ClientKind.Ours][i];
            Assert.Equal(debian[^1], ours[^1]);  // the summary, with its "\e[K" and newline
            Assert.Contains(" skipped. R MB/s", ours[^1]);
            foreach (string line in ours) Assert.Contains(line, debian);
            Assert.True(ours.Count >= 2, string.Join("|", ours)); // some progress was drawn
        }
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task ExecOut_BinarySafe(ClientKind c, ServerKind s)
    {
        var expected = await Adb(ClientKind.Debian, ServerKind.Debian, "exec-out", "printf", "x\\001\\377y");
        var actual = await Adb(c, s, "exec-out", "printf", "x\\001\\377y");
        Assert.Equal(expected.Code, actual.Code);
        Assert.Equal(expected.StdoutBytes, actual.StdoutBytes);
        Assert.Equal(new byte[] { (byte)'x', 1, 255, (byte)'y' }, actual.StdoutBytes);
    }

    private static readonly int[] Sizes = [0, 1, 65535, 65536, 65537, 3 * 1024 * 1024 + 17];

    private static byte[] Content(int size, int seed)
    {
        byte[] b = new byte[size];
        new Random(seed).NextBytes(b);
        return b;
    }

    /// <summary>Replaces the timing part of a summary line ("12.3 MB/s (123 bytes in 0.004s)").</summary>
    private static string NormalizeRate(string s) => RateRegex().Replace(s, "R MB/s (N bytes in Ts)");

    [GeneratedRegex(@"\d+(\.\d+)? MB/s \((\d+) bytes in \d+\.\d+s\)")]
    private static partial Regex RateRegex();

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task PushPull_Files_RoundTripAndSummaryLikeDebian(ClientKind c, ServerKind s)
    {
        string tag = $"{c}-{s}";
        string hostDir = Path.Combine(env.HostDir, "files-" + tag);
        string devDir = Path.Combine(env.DeviceDir, "files-" + tag);
        Directory.CreateDirectory(hostDir);
        Directory.CreateDirectory(devDir);
        var names = Sizes.Select(n => $"f{n}.bin").Append("名前 ñ é.txt").ToList();
        for (int i = 0; i < names.Count; i++)
            File.WriteAllBytes(Path.Combine(hostDir, names[i]), i < Sizes.Length ? Content(Sizes[i], i) : Encoding.UTF8.GetBytes("unicode\n"));

        foreach (string name in names)
        {
            string local = Path.Combine(hostDir, name), remote = devDir + "/" + name;
            var push = await Adb(c, s, "push", local, remote);
            Assert.True(push.Code == 0, $"push {name}: {push}");
            Assert.Equal(File.ReadAllBytes(local), File.ReadAllBytes(remote));
            // The summary line has Debian's shape (checked by running Debian's client on the same file).
            var reference = await Adb(ClientKind.Debian, ServerKind.Debian, "push", local, remote + ".ref");
            Assert.Equal(NormalizeRate(reference.Stdout).Replace(".ref", ""), NormalizeRate(push.Stdout));

            string back = Path.Combine(hostDir, "back-" + name);
            var pull = await Adb(c, s, "pull", remote, back);
            Assert.True(pull.Code == 0, $"pull {name}: {pull}");
            Assert.Equal(File.ReadAllBytes(local), File.ReadAllBytes(back));
            var refPull = await Adb(ClientKind.Debian, ServerKind.Debian, "pull", remote, back + ".ref");
            Assert.Equal(NormalizeRate(refPull.Stdout).Replace(".ref", ""), NormalizeRate(pull.Stdout));
        }
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task PushPull_Folder_RoundTrip(ClientKind c, ServerKind s)
    {
        string tag = $"{c}-{s}";
        string src = Path.Combine(env.HostDir, "tree-" + tag);
        Directory.CreateDirectory(Path.Combine(src, "sub", "deeper"));
        File.WriteAllText(Path.Combine(src, "a.txt"), "A");
        File.WriteAllBytes(Path.Combine(src, "sub", "b.bin"), Content(70_000, 5));
        File.WriteAllText(Path.Combine(src, "sub", "deeper", "ç.txt"), "deep");
        string devParent = Path.Combine(env.DeviceDir, "trees-" + tag);
        Directory.CreateDirectory(devParent);

        var push = await Adb(c, s, "push", src, devParent);
        Assert.True(push.Code == 0, push.ToString());
        string devTree = Path.Combine(devParent, Path.GetFileName(src));
        Assert.Equal("A", File.ReadAllText(Path.Combine(devTree, "a.txt")));
        Assert.Equal("deep", File.ReadAllText(Path.Combine(devTree, "sub", "deeper", "ç.txt")));
        Assert.Matches(@"3 files pushed, 0 skipped\.", push.Stdout);

        // --sync: nothing changed, so everything is skipped.
        var again = await Adb(c, s, "push", "--sync", src, devParent);
        Assert.True(again.Code == 0, again.ToString());
        Assert.Matches(@"0 files pushed, 3 skipped\.", again.Stdout);

        string back = Path.Combine(env.HostDir, "treeback-" + tag);
        Directory.CreateDirectory(back);
        var pull = await Adb(c, s, "pull", "-a", devTree, back);
        Assert.True(pull.Code == 0, pull.ToString());
        string pulled = Path.Combine(back, Path.GetFileName(src));
        Assert.Equal(File.ReadAllBytes(Path.Combine(src, "sub", "b.bin")), File.ReadAllBytes(Path.Combine(pulled, "sub", "b.bin")));
        Assert.Equal("deep", File.ReadAllText(Path.Combine(pulled, "sub", "deeper", "ç.txt")));
        Assert.Matches(@"3 files pulled, 0 skipped\.", pull.Stdout);
    }

    [Fact]
    public async Task Pull_IntoFifo_WritesInPlace_KeepsTheFifo()
    {
        // Regression: pulling onto a device or FIFO (e.g. /dev/null) must write into it, not rename a temp file over it.
        string remote = Path.Combine(env.DeviceDir, "fifo-src.bin");
        byte[] data = Content(200_000, 9);
        File.WriteAllBytes(remote, data);
        string fifo = Path.Combine(env.HostDir, "pull.fifo");
        var mk = await Proc.RunAsync(Proc.Info("mkfifo", [fifo], env));
        Assert.Equal(0, mk.Code);
        var reader = Task.Run(() => File.ReadAllBytes(fifo));
        var r = await Adb(ClientKind.Ours, ServerKind.Ours, "pull", remote, fifo);
        Assert.True(r.Code == 0, r.ToString());
        Assert.Equal(data, await reader.WaitAsync(TimeSpan.FromSeconds(20)));
        var stat = await Proc.RunAsync(Proc.Info("stat", ["-c", "%F", fifo], env));
        Assert.Equal("fifo\n", stat.Stdout);
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Pull_Missing_SameErrorAsDebian(ClientKind c, ServerKind s)
    {
        string missing = Path.Combine(env.DeviceDir, "does-not-exist");
        var expected = await Adb(ClientKind.Debian, ServerKind.Debian, "pull", missing, Path.Combine(env.HostDir, "x"));
        var actual = await Adb(c, s, "pull", missing, Path.Combine(env.HostDir, "x"));
        Assert.Equal(expected.Code, actual.Code);
        Assert.Equal(expected.Stderr, actual.Stderr);
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Ls_SameOutputAsDebian(ClientKind c, ServerKind s)
    {
        string dir = Path.Combine(env.DeviceDir, "ls-" + c + s);
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "one"), "1");
        File.WriteAllText(Path.Combine(dir, "two"), "22");
        var expected = await Adb(ClientKind.Debian, ServerKind.Debian, "ls", dir);
        var actual = await Adb(c, s, "ls", dir);
        Assert.Equal(expected.Code, actual.Code);
        Assert.Equal(expected.Stdout.Split('\n').Order(), actual.Stdout.Split('\n').Order());
    }

    private static async Task<(TcpListener Listener, Task Loop)> EchoServerAsync()
    {
        var l = new TcpListener(IPAddress.Loopback, Proc.FreePort());
        l.Start();
        var loop = Task.Run(async () =>
        {
            while (true)
            {
                Socket s;
                try { s = await l.AcceptSocketAsync(); } catch { return; }
                _ = Task.Run(async () =>
                {
                    using (s)
                    {
                        byte[] b = new byte[4096];
                        int n;
                        try { while ((n = await s.ReceiveAsync(b)) > 0) await s.SendAsync(b.AsMemory(0, n)); } catch { }
                    }
                });
            }
        });
        await Task.Yield();
        return (l, loop);
    }

    private static async Task<string> EchoThroughAsync(int port, string text)
    {
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync(IPAddress.Loopback, port);
        await s.SendAsync(Encoding.UTF8.GetBytes(text));
        byte[] buf = new byte[4096];
        var sb = new StringBuilder();
        using var cts = new CancellationTokenSource(10_000);
        while (sb.Length < text.Length)
        {
            int n = await s.ReceiveAsync(buf, cts.Token);
            if (n == 0) break;
            sb.Append(Encoding.UTF8.GetString(buf, 0, n));
        }
        return sb.ToString();
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Forward_ToLocalEchoServer_ListAndRemove(ClientKind c, ServerKind s)
    {
        var (echo, _) = await EchoServerAsync();
        try
        {
            int echoPort = ((IPEndPoint)echo.LocalEndpoint).Port;
            int local = Proc.FreePort();
            var r = await Adb(c, s, "forward", $"tcp:{local}", $"tcp:{echoPort}");
            Assert.True(r.Code == 0, r.ToString());
            Assert.Equal("ping through forward", await EchoThroughAsync(local, "ping through forward"));
            var list = await Adb(c, s, "forward", "--list");
            Assert.Contains($"{env.Serial} tcp:{local} tcp:{echoPort}\n", list.Stdout);
            var norebind = await Adb(c, s, "forward", "--no-rebind", $"tcp:{local}", "tcp:1");
            var norebindDebian = await Adb(ClientKind.Debian, ServerKind.Debian, "forward", "--no-rebind", $"tcp:{local}", "tcp:1");
            Assert.Equal(1, norebind.Code);
            Assert.Contains("cannot rebind existing socket", norebind.Stderr);
            var rm = await Adb(c, s, "forward", "--remove", $"tcp:{local}");
            Assert.True(rm.Code == 0, rm.ToString());
            list = await Adb(c, s, "forward", "--list");
            Assert.DoesNotContain($"tcp:{local} ", list.Stdout);
            var rm2 = await Adb(c, s, "forward", "--remove", $"tcp:{local}");
            var rm2Debian = await Adb(ClientKind.Debian, ServerKind.Debian, "forward", "--remove", "tcp:1");
            Assert.Equal(rm2Debian.Code, rm2.Code);
            Assert.Equal(rm2Debian.Stderr.Replace("tcp:1", $"tcp:{local}"), rm2.Stderr);
            _ = norebindDebian;

            // tcp:0: the server picks a port and the client prints it.
            var any = await Adb(c, s, "forward", "tcp:0", $"tcp:{echoPort}");
            Assert.True(any.Code == 0 && int.TryParse(any.Stdout.Trim(), out int picked) && picked > 0, any.ToString());
            Assert.Equal("via picked port", await EchoThroughAsync(int.Parse(any.Stdout.Trim()), "via picked port"));
            await Adb(c, s, "forward", "--remove", $"tcp:{any.Stdout.Trim()}");
        }
        finally { echo.Stop(); }
    }

    [Theory]
    [MemberData(nameof(Pairs))]
    public async Task Reverse_DeviceConnectsBackToHostEcho(ClientKind c, ServerKind s)
    {
        var (echo, _) = await EchoServerAsync();
        try
        {
            int echoPort = ((IPEndPoint)echo.LocalEndpoint).Port;
            int devicePort = Proc.FreePort();
            var r = await Adb(c, s, "reverse", $"tcp:{devicePort}", $"tcp:{echoPort}");
            Assert.True(r.Code == 0, r.ToString());
            // adbd serves this machine, so its reverse listener is on this machine too.
            Assert.Equal("pong via reverse", await EchoThroughAsync(devicePort, "pong via reverse"));
            var list = await Adb(c, s, "reverse", "--list");
            Assert.Contains($"tcp:{devicePort} tcp:{echoPort}", list.Stdout);
            var rm = await Adb(c, s, "reverse", "--remove-all");
            Assert.True(rm.Code == 0, rm.ToString());
        }
        finally { echo.Stop(); }
    }
}
