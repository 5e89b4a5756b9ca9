using System.Net.Sockets;
using Adb.Daemon.Tests.Infrastructure;

namespace Adb.Daemon.Tests.Interop;

/// <summary>adb forward (host port → adbd tcp: target) and adb reverse (device port → host target).</summary>
[Collection("connected")]
public class ForwardTests(ConnectedDaemonFixture fx)
{
    private AdbTestEnv Env => fx.Env;

    private static void AssertEchoes(int port, int size)
    {
        using var c = new TcpClient("127.0.0.1", port);
        var s = c.GetStream();
        s.ReadTimeout = 20000;
        byte[] data = new byte[size];
        new Random(size).NextBytes(data);
        var writer = Task.Run(() => s.Write(data));
        byte[] got = new byte[size];
        int off = 0;
        while (off < size)
        {
            int n = s.Read(got, off, size - off);
            Assert.NotEqual(0, n);
            off += n;
        }
        writer.Wait();
        Assert.Equal(data, got);
    }

    [Fact]
    public void Forward_ToLocalEchoServer_RelaysBothWays()
    {
        using var echo = new EchoServer();
        int local = Ports.Next();
        var r = Env.Adb("forward", $"tcp:{local}", $"tcp:{echo.Port}");
        Assert.Equal(0, r.ExitCode);
        try
        {
            AssertEchoes(local, 1);
            AssertEchoes(local, 3_000_000);
            Assert.Contains($"{Env.Serial} tcp:{local} tcp:{echo.Port}", Env.Adb("forward", "--list").Stdout);
        }
        finally { Env.Adb("forward", "--remove", $"tcp:{local}"); }
    }

    [Fact]
    public void Forward_ToClosedPort_ClosesOnlyThatStream()
    {
        int local = Ports.Next(), dead = Ports.Next();
        Assert.Equal(0, Env.Adb("forward", $"tcp:{local}", $"tcp:{dead}").ExitCode);
        try
        {
            using (var c = new TcpClient("127.0.0.1", local))
            {
                var s = c.GetStream();
                s.ReadTimeout = 10000;
                int n;
                try { n = s.Read(new byte[1]); } catch (IOException) { n = 0; }
                Assert.Equal(0, n);
            }
            Assert.Equal(0, Env.Adb("shell", "true").ExitCode);
            Assert.Contains($"service=\"tcp:{dead}\" result=failed", Env.AuditText());
        }
        finally { Env.Adb("forward", "--remove", $"tcp:{local}"); }
    }

    [Fact]
    public void Reverse_DevicePortReachesHostEchoServer()
    {
        using var echo = new EchoServer();
        int devicePort = Ports.Next();
        var r = Env.Adb("reverse", $"tcp:{devicePort}", $"tcp:{echo.Port}");
        Assert.True(r.ExitCode == 0, r.ToString());
        try
        {
            // The client prints the device's list plus its own newline (same as forward --list with Debian's server).
            Assert.Equal($"host tcp:{devicePort} tcp:{echo.Port}\n\n", Env.Adb("reverse", "--list").Stdout);
            AssertEchoes(devicePort, 200_000);
            var again = Env.Adb("reverse", "--no-rebind", $"tcp:{devicePort}", $"tcp:{echo.Port}");
            Assert.Equal(1, again.ExitCode);
            Assert.Contains("cannot rebind existing socket", again.Stderr);
        }
        finally { Env.Adb("reverse", "--remove-all"); }
        Assert.Equal("\n", Env.Adb("reverse", "--list").Stdout);
    }
}
