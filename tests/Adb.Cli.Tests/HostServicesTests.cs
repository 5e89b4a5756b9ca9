using System.Net.Sockets;
using System.Text;

namespace Adb.Cli.Tests;

/// <summary>
/// Host services of our server compared with Debian's adb 29.0.6 server: the same Debian client runs the same
/// command against both servers (which serve the same adbd) and the outputs must be byte-identical.
/// </summary>
[Collection("adb")]
public sealed class HostServicesTests(AdbEnvironment env)
{
    private async Task AssertSameAsync(params string[] args)
    {
        var debian = await env.AdbAsync(ClientKind.Debian, ServerKind.Debian, args);
        var ours = await env.AdbAsync(ClientKind.Debian, ServerKind.Ours, args);
        Assert.Equal(debian.Code, ours.Code);
        Assert.Equal(debian.Stdout, ours.Stdout);
        Assert.Equal(debian.Stderr, ours.Stderr);
    }

    [Fact]
    public Task Devices_DebianClient_SameBytesAsDebianServer() => AssertSameAsync("devices");

    [Fact]
    public async Task DevicesLong_DebianClient_SameBytesAsDebianServer()
    {
        await AssertSameAsync("devices", "-l");
        var r = await env.AdbAsync(ClientKind.Debian, ServerKind.Ours, "devices", "-l");
        Assert.Contains(env.Serial, r.Stdout);
        Assert.Contains(" device ", r.Stdout);
    }

    [Theory]
    [InlineData("get-state")]
    [InlineData("get-serialno")]
    [InlineData("features")]
    [InlineData("host-features")]
    [InlineData("forward", "--list")]
    public Task HostQuery_DebianClient_SameAsDebianServer(params string[] args) => AssertSameAsync(args);

    [Fact]
    public async Task Features_OurClient_OneNamePerLineLikeDebianClient()
    {
        var expected = await env.AdbAsync(ClientKind.Debian, ServerKind.Debian, "-s", env.Serial, "features");
        var actual = await env.AdbAsync(ClientKind.Ours, ServerKind.Ours, "-s", env.Serial, "features");
        Assert.Equal(expected.Code, actual.Code);
        // Debian's order is its std::unordered_set's; the set of lines must be the same.
        Assert.Equal(expected.Stdout.Split('\n').Order(), actual.Stdout.Split('\n').Order());
        Assert.True(expected.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length > 1, expected.ToString());
    }

    [Theory]
    [InlineData("-s", "nosuchdevice", "get-state")]
    [InlineData("-s", "nosuchdevice", "shell", "true")]
    [InlineData("-t", "99", "get-state")]
    [InlineData("disconnect", "127.0.0.1:1")]
    [InlineData("-s", "nosuchdevice", "forward", "tcp:0", "tcp:1")]
    public Task HostError_DebianClient_SameMessageAndExitCode(params string[] args) => AssertSameAsync(args);

    [Fact]
    public async Task ConnectRefused_DebianClient_SameMessage()
    {
        int dead = Proc.FreePort();
        await AssertSameAsync("connect", $"127.0.0.1:{dead}");
    }

    [Fact]
    public async Task ConnectTwice_AlreadyConnected_SameMessage()
    {
        await AssertSameAsync("connect", env.Serial);
    }

    [Fact]
    public async Task Version_DebianClient_AcceptsOurServer()
    {
        // Debian's client sends host:version first and would kill a server answering anything but 41.
        var r = await env.AdbAsync(ClientKind.Debian, ServerKind.Ours, "version");
        Assert.Equal(0, r.Code);
        var d = await env.AdbAsync(ClientKind.Debian, ServerKind.Ours, "get-state");
        Assert.Equal("device\n", d.Stdout);
        Assert.DoesNotContain("doesn't match", d.Stderr);
    }

    [Fact]
    public async Task OurClient_Version_PrintsAospHeader()
    {
        var r = await env.AdbAsync(ClientKind.Ours, ServerKind.Ours, "version");
        var d = await env.AdbAsync(ClientKind.Debian, ServerKind.Debian, "version");
        Assert.Equal(0, r.Code);
        Assert.Equal(d.Stdout.Split('\n')[0], r.Stdout.Split('\n')[0]);
    }

    /// <summary>
    /// <c>adb</c> with no command (also after global options), <c>adb help</c>, <c>adb --help</c> and <c>adb --version</c>:
    /// same stream (stdout), same exit code and the same text as Debian's client, except the second and third
    /// version lines (build name, installed path), which each client prints about itself.
    /// </summary>
    [Fact]
    public async Task OurClient_HelpAndNoCommand_SameUsageAsDebian()
    {
        static string WithoutSelfLines(string s)
        {
            var lines = s.Split('\n').ToList();
            Assert.True(lines.Count > 3, s);
            Assert.StartsWith("Version 29.0.6-", lines[1]);
            Assert.StartsWith("Installed as /", lines[2]);
            lines.RemoveRange(1, 2);
            return string.Join('\n', lines);
        }

        foreach (string[] args in (string[][])[[], ["-s", "x"], ["help"], ["--help"], ["help", "push"], ["--version"]])
        {
            var d = await Proc.RunAsync(Proc.Info("/usr/bin/adb", ["-P", env.DebianPort.ToString(), .. args], env));
            var o = await Proc.RunAsync(env.OurAdb(["-P", env.OursPort.ToString(), .. args]));
            string what = $"adb {string.Join(' ', args)}";
            Assert.True(d.Code == o.Code, $"{what}: Debian {d}, ours {o}");
            Assert.Equal(d.Stderr, o.Stderr);
            Assert.Equal(WithoutSelfLines(d.Stdout), WithoutSelfLines(o.Stdout));
            Assert.True(d.Stdout.Length > 2000 || args is ["--version"], $"{what}: {d}");
            Assert.EndsWith($"Installed as {Path.Combine(AdbEnvironment.BinDir, "adb")}", o.Stdout.Split('\n')[2]);
        }
    }

    [Theory]
    [InlineData(ServerKind.Debian)]
    [InlineData(ServerKind.Ours)]
    public async Task OurClient_HostCommands_SameAsDebianClient(ServerKind server)
    {
        foreach (string[] args in (string[][])[["devices"], ["devices", "-l"], ["get-state"], ["get-serialno"], ["-s", "nosuch", "get-state"],
                     ["wait-for-foo"], ["forward", "--list"], ["disconnect", "127.0.0.1:1"], ["bogus"]])
        {
            var debian = await env.AdbAsync(ClientKind.Debian, server, args);
            var ours = await env.AdbAsync(ClientKind.Ours, server, args);
            Assert.True(debian.Code == ours.Code, $"{string.Join(' ', args)}: debian {debian} ours {ours}");
            Assert.Equal(debian.Stdout, ours.Stdout);
            Assert.Equal(debian.Stderr, ours.Stderr);
        }
    }

    // ---- raw smart-socket checks (the expected bytes were captured from Debian's server; both must agree) ----

    private static async Task<byte[]> RawAsync(int port, byte[] request, int readTimeoutMs = 3000)
    {
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync("127.0.0.1", port);
        await s.SendAsync(request);
        var ms = new MemoryStream();
        byte[] buf = new byte[4096];
        using var cts = new CancellationTokenSource(readTimeoutMs);
        try
        {
            int n;
            while ((n = await s.ReceiveAsync(buf, cts.Token)) > 0) ms.Write(buf, 0, n);
        }
        catch (OperationCanceledException) { }
        return ms.ToArray();
    }

    [Theory]
    [InlineData("000chost:version")]
    [InlineData("0010host:unknown-xx")]
    [InlineData("0000")]
    [InlineData("ZZZZhost:version")]
    [InlineData("000Chost:version")]
    [InlineData("0013host:list-forward")]
    public async Task RawRequest_SameReplyBytesAsDebianServer(string request)
    {
        byte[] req = Encoding.ASCII.GetBytes(request);
        byte[] debian = await RawAsync(env.DebianPort, req);
        byte[] ours = await RawAsync(env.OursPort, req);
        Assert.Equal(Encoding.ASCII.GetString(debian), Encoding.ASCII.GetString(ours));
    }

    [Theory]
    [InlineData("host-serial:nosuch:get-state")]
    [InlineData("host-serial:1.2.3.4:5555:get-state")]
    [InlineData("host-serial:[::1]:5555:get-state")]
    [InlineData("host-serial:usb:1-2.3:get-state")]
    [InlineData("host-serial:product:foo:get-state")]
    [InlineData("host-serial:model:Linux_adbd:get-serialno")]
    [InlineData("host-serial:tcp:1.2.3.4:5555:get-state")]
    [InlineData("host-transport-id:987:get-state")]
    [InlineData("host-local:get-state")]
    [InlineData("host:get-devpath")]
    [InlineData("host:wait-for-any-foo")]
    [InlineData("host:wait-for-bogus-device")]
    [InlineData("host:wait-for-nodash")]
    [InlineData("host:transport:nosuch")]
    [InlineData("host:tport:serial:nosuch")]
    [InlineData("host:killforward:tcp:1")]
    [InlineData("host:forward:tcp:0;*bad")]
    public async Task RawHostRequest_SerialParsingAndErrors_SameAsDebianServer(string request)
    {
        // The serial that ends up in "device '…' not found" shows how each server split the request.
        byte[] req = Encoding.UTF8.GetBytes($"{request.Length:x4}{request}");
        byte[] debian = await RawAsync(env.DebianPort, req, 1500);
        byte[] ours = await RawAsync(env.OursPort, req, 1500);
        Assert.Equal(Encoding.UTF8.GetString(debian), Encoding.UTF8.GetString(ours));
    }

    [Fact]
    public async Task TportAny_RepliesOkayAndEightByteTransportId()
    {
        byte[] req = Encoding.ASCII.GetBytes("000ehost:tport:any");
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync("127.0.0.1", env.OursPort);
        await s.SendAsync(req);
        byte[] buf = new byte[12];
        int got = 0;
        while (got < 12) got += await s.ReceiveAsync(buf.AsMemory(got));
        Assert.Equal("OKAY", Encoding.ASCII.GetString(buf, 0, 4));
        long id = BitConverter.ToInt64(buf, 4);
        var list = await env.AdbAsync(ClientKind.Debian, ServerKind.Ours, "devices", "-l");
        Assert.Contains($"transport_id:{id}", list.Stdout);
    }

    [Fact]
    public async Task LegacyTransportSerial_ThenShell_Works()
    {
        // AdvancedSharpAdbClient's path: host:transport:<serial> (OKAY only), then shell:.
        using var s = new Socket(SocketType.Stream, ProtocolType.Tcp);
        await s.ConnectAsync("127.0.0.1", env.OursPort);
        string sw = $"host:transport:{env.Serial}";
        await s.SendAsync(Encoding.ASCII.GetBytes($"{sw.Length:x4}{sw}"));
        byte[] okay = new byte[4];
        int got = 0;
        while (got < 4) got += await s.ReceiveAsync(okay.AsMemory(got));
        Assert.Equal("OKAY", Encoding.ASCII.GetString(okay));
        string sh = "shell:echo legacy";
        await s.SendAsync(Encoding.ASCII.GetBytes($"{sh.Length:x4}{sh}"));
        var ms = new MemoryStream();
        byte[] buf = new byte[1024];
        int n;
        using var cts = new CancellationTokenSource(10_000);
        while ((n = await s.ReceiveAsync(buf, cts.Token)) > 0) ms.Write(buf, 0, n);
        Assert.Equal("OKAYlegacy\n", Encoding.ASCII.GetString(ms.ToArray()));
    }

    [Fact]
    public async Task TrackDevices_SendsCurrentListFirst()
    {
        byte[] req = Encoding.ASCII.GetBytes("0012host:track-devices");
        byte[] debian = await RawAsync(env.DebianPort, req, 1000);
        byte[] ours = await RawAsync(env.OursPort, req, 1000);
        Assert.Equal(Encoding.ASCII.GetString(debian), Encoding.ASCII.GetString(ours));
        Assert.StartsWith("OKAY", Encoding.ASCII.GetString(ours));
        Assert.Contains($"{env.Serial}\tdevice\n", Encoding.ASCII.GetString(ours));
    }
}
