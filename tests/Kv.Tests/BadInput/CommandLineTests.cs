using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.BadInput;

/// <summary>
/// Unknown or malformed command-line options: kv-server must exit with code 1 and a message naming the option,
/// worded as redis-server 7.0.15 words it (the FATAL CONFIG FILE ERROR report).
/// </summary>
public class CommandLineTests(ITestOutputHelper output)
{
    public static TheoryData<string[]> BadArgs => new()
    {
        { ["--foo", "bar"] },
        { ["--port", "notaport"] },
        { ["--port", "99999"] },
        { ["--maxclients", "0"] },
        { ["--appendonly", "maybe"] },
        { ["--loglevel", "shout"] },
        { ["--save", "100"] },
        { ["--databases"] },
        { ["--proto-max-bulk-len", "abc"] },
        { ["--requirepass", "a", "b"] },
        { ["--bind", "127.0.0.1", "--dir", "/nonexistent/kv-test-dir"] },
    };

    [Theory]
    [MemberData(nameof(BadArgs))]
    public async Task SameErrorAsRedis(string[] args)
    {
        var tmp = Directory.CreateTempSubdirectory("kvtest-cli-").FullName;
        try
        {
            // Keep both off any real port so a bad-but-accepted option would not collide with anything.
            string[] full = ["--port", ServerProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), .. args];
            if (args.Contains("--port")) full = args;
            var r = await RunOrKill(ServerKind.Redis, full, tmp);
            var k = await RunOrKill(ServerKind.Kv, full, tmp);
            output.WriteLine($"redis exit {r.ExitCode}:\n{r.Output}\nkv exit {k.ExitCode}:\n{k.Output}");
            Assert.Equal(1, r.ExitCode);
            Assert.Equal(1, k.ExitCode);
            Assert.Equal(ErrorLines(r.Output), ErrorLines(k.Output));
        }
        finally
        {
            Directory.Delete(tmp, true);
        }
    }

    /// <summary>
    /// A port another server already listens on is refused by both (exit 1, "Address already in use"), whichever
    /// server holds it: a second kv-server must not share the port with the first (SO_REUSEPORT).
    /// </summary>
    [Theory]
    [InlineData(ServerKind.Kv)]
    [InlineData(ServerKind.Redis)]
    public async Task BusyPortIsRefusedLikeRedis(ServerKind holder)
    {
        await using var first = holder == ServerKind.Kv ? await ServerProcess.StartKvAsync() : await ServerProcess.StartRedisAsync();
        var tmp = Directory.CreateTempSubdirectory("kvtest-cli-").FullName;
        try
        {
            string[] args = ["--port", first.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", ""];
            var r = await RunOrKill(ServerKind.Redis, args, tmp);
            var k = await RunOrKill(ServerKind.Kv, args, tmp);
            output.WriteLine($"redis exit {r.ExitCode}:\n{r.Output}\nkv exit {k.ExitCode}:\n{k.Output}");
            Assert.Equal(1, r.ExitCode);
            Assert.Equal(1, k.ExitCode);
            static string Listening(string o) => string.Join('\n', ErrorLines(o).Split('\n').Where(l => l.Contains("listening", StringComparison.Ordinal)));
            Assert.Contains("Address already in use", Listening(r.Output), StringComparison.Ordinal);
            Assert.Equal(Listening(r.Output), Listening(k.Output));
            // The first server still answers.
            using var c = await first.ConnectAsync();
            Assert.Equal("+PONG\r\n", System.Text.Encoding.ASCII.GetString(await c.CommandAsync("PING")));
        }
        finally
        {
            Directory.Delete(tmp, true);
        }
    }

    /// <summary>
    /// Settings kv does not implement are refused, not silently ignored: <c>appendonly yes</c> (redis writes an AOF, kv
    /// would lose the writes a user counted on) and <c>daemonize yes</c> (redis forks and its parent exits) make
    /// kv-server exit 1 with a FATAL CONFIG report saying why, while redis accepts them; CONFIG SET appendonly yes is
    /// an error and leaves "no".
    /// </summary>
    [Theory]
    [InlineData("appendonly", "append-only file")]
    [InlineData("daemonize", "cannot daemonize")]
    public async Task UnimplementedYesIsRefused(string name, string why)
    {
        var tmp = Directory.CreateTempSubdirectory("kvtest-cli-").FullName;
        try
        {
            var k = await RunOrKill(ServerKind.Kv, ["--port", ServerProcess.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture), "--" + name, "yes"], tmp);
            output.WriteLine($"kv exit {k.ExitCode}:\n{k.Output}");
            Assert.Equal(1, k.ExitCode);
            Assert.Contains("FATAL CONFIG FILE ERROR", k.Output, StringComparison.Ordinal);
            Assert.Contains($"'{name} \"yes\"'", k.Output, StringComparison.Ordinal);
            Assert.Contains(why, k.Output, StringComparison.Ordinal);
            Assert.Empty(Directory.GetFileSystemEntries(tmp)); // no appendonlydir, no dump
        }
        finally
        {
            Directory.Delete(tmp, true);
        }
        await using var kv = await ServerProcess.StartKvAsync();
        using var c = await kv.ConnectAsync();
        var reply = System.Text.Encoding.ASCII.GetString(await c.CommandAsync("CONFIG", "SET", "appendonly", "yes"));
        Assert.StartsWith("-ERR CONFIG SET failed (possibly related to argument 'appendonly') - kv-server has no append-only file", reply, StringComparison.Ordinal);
        Assert.Equal("*2\r\n$10\r\nappendonly\r\n$2\r\nno\r\n", System.Text.Encoding.ASCII.GetString(await c.CommandAsync("CONFIG", "GET", "appendonly")));
    }

    /// <summary>
    /// pidfile (server.c createPidFile): like redis-server, kv-server writes its pid and a newline there once it
    /// listens, and removes the file when it shuts down.
    /// </summary>
    [Theory]
    [InlineData(ServerKind.Kv)]
    [InlineData(ServerKind.Redis)]
    public async Task PidFileIsWrittenAndRemoved(ServerKind kind)
    {
        var tmp = Directory.CreateTempSubdirectory("kvtest-pid-").FullName;
        var pidfile = Path.Combine(tmp, "server.pid");
        try
        {
            await using var s = kind == ServerKind.Kv ? await ServerProcess.StartKvAsync("--pidfile", pidfile) : await ServerProcess.StartRedisAsync("--pidfile", pidfile);
            Assert.Equal($"{s.Process.Id}\n", await File.ReadAllTextAsync(pidfile));
            using (var c = await s.ConnectAsync())
            {
                try { await c.CommandAsync("SHUTDOWN", "NOSAVE"); } catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException) { }
            }
            var sw = System.Diagnostics.Stopwatch.StartNew();
            while (!s.Process.HasExited && sw.ElapsedMilliseconds < 10_000) await Task.Delay(50);
            Assert.True(s.Process.HasExited);
            Assert.False(File.Exists(pidfile));
        }
        finally
        {
            Directory.Delete(tmp, true);
        }
    }

    /// <summary>The lines of the report that carry the error (redis adds a pid/timestamp prefix to log lines).</summary>
    private static string ErrorLines(string output)
        => string.Join('\n', output.Split('\n').Select(l => l.TrimEnd()).Where(l => l.Length > 0)
            .Select(l => System.Text.RegularExpressions.Regex.Replace(l, @"^\d+:[A-Z] \d+ \w+ \d+ [\d:.]+ . ", "")));

    private static async Task<(int ExitCode, string Output)> RunOrKill(ServerKind kind, string[] args, string dir)
    {
        try
        {
            return await ServerProcess.RunToExitAsync(kind, args, TimeSpan.FromSeconds(10), dir);
        }
        catch (TimeoutException e)
        {
            return (-1, "still running: " + e.Message);
        }
    }
}
