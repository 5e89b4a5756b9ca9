using System.Globalization;
using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.Clients;

/// <summary>
/// redis-cli (Debian redis-tools 7.0.15) against both servers: the same scripted session must print the same
/// text, and pipe mode must transfer everything without errors.
/// </summary>
public class RedisCliTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private static string Port(ServerProcess s) => s.Port.ToString(CultureInfo.InvariantCulture);

    private async Task<(string Redis, string Kv)> Both(string[] args, string? stdin = null)
    {
        var r = await ToolRunner.RunAsync(ServerPaths.RedisCli, ["-p", Port(pair.Redis), .. args], stdin);
        var k = await ToolRunner.RunAsync(ServerPaths.RedisCli, ["-p", Port(pair.Kv), .. args], stdin);
        output.WriteLine($"--- redis (exit {r.ExitCode}):\n{r.Stdout}{r.Stderr}\n--- kv (exit {k.ExitCode}):\n{k.Stdout}{k.Stderr}");
        Assert.Equal(r.ExitCode, k.ExitCode);
        return (r.Stdout + r.Stderr, k.Stdout + k.Stderr);
    }

    private async Task Flush()
    {
        foreach (var s in new[] { pair.Redis, pair.Kv })
        {
            using var c = await s.ConnectAsync();
            await c.CommandAsync("FLUSHALL");
        }
    }

    private const string Session = """
        SET greeting "hello world"
        GET greeting
        GET missing
        INCR counter
        INCRBY counter 41
        INCRBYFLOAT f 3.25
        APPEND greeting !
        STRLEN greeting
        MSET a 1 b 2 c 3
        MGET a b missing c
        RPUSH list x y z
        LRANGE list 0 -1
        LRANGE missing 0 -1
        HSET h field value
        HGET h field
        SADD s one
        SMEMBERS s
        ZADD z 1.5 m
        ZRANGE z 0 -1 WITHSCORES
        TYPE list
        EXISTS a b missing
        EXPIRE a 100
        TTL a
        DEL a b c
        GET greeting extra
        NOSUCHCOMMAND arg
        LPUSH greeting x
        SET k "line1\nline2"
        GET k
        SET bin "\x00\x01\xff"
        GET bin
        ECHO ""
        PING
        SELECT 1
        DBSIZE
        SELECT 0
        MULTI
        INCR counter
        GET counter
        EXEC
        CONFIG GET maxclients
        OBJECT ENCODING counter
        CLIENT GETNAME
        """;

    [Fact]
    public async Task ScriptedSessionNoRaw()
    {
        await Flush();
        var (r, k) = await Both(["--no-raw"], Session);
        Assert.Equal(r, k);
    }

    [Fact]
    public async Task ScriptedSessionRaw()
    {
        await Flush();
        var (r, k) = await Both(["--raw"], Session);
        Assert.Equal(r, k);
    }

    [Fact]
    public async Task ScriptedSessionResp3()
    {
        await Flush();
        var (r, k) = await Both(["-3", "--no-raw"], Session.Replace("CLIENT GETNAME", "HGETALL h"));
        Assert.Equal(r, k);
    }

    [Fact]
    public async Task SingleCommandsAsArguments()
    {
        await Flush();
        foreach (string[] cmd in new[]
                 {
                     new[] { "SET", "x", "10" }, ["INCR", "x"], ["GET", "x"], ["GET", "nope"], ["LPUSH", "x", "1"],
                     ["RPUSH", "l", "a", "b"], ["LRANGE", "l", "0", "-1"], ["TTL", "x"], ["DBSIZE"], ["PING", "hi"],
                 })
        {
            var (r, k) = await Both(["--no-raw", .. cmd]);
            Assert.Equal(r, k);
        }
    }

    [Fact]
    public async Task PipeMode()
    {
        await Flush();
        var sb = new StringBuilder();
        for (int i = 0; i < 2000; i++)
        {
            var key = $"pipe:{i}";
            var val = $"value-{i}";
            sb.Append(CultureInfo.InvariantCulture, $"*3\r\n$3\r\nSET\r\n${key.Length}\r\n{key}\r\n${val.Length}\r\n{val}\r\n");
        }
        sb.Append("*2\r\n$4\r\nINCR\r\n$8\r\npipe:cnt\r\n");
        var (r, k) = await Both(["--pipe"], sb.ToString());
        Assert.Contains("errors: 0, replies: 2001", k);
        Assert.Equal(r, k);
        using var c = await pair.Kv.ConnectAsync();
        Assert.Equal(":2001\r\n", Encoding.ASCII.GetString(await c.CommandAsync("DBSIZE")));
        Assert.Equal("$10\r\nvalue-1999\r\n", Encoding.ASCII.GetString(await c.CommandAsync("GET", "pipe:1999")));
    }

    [Fact]
    public async Task PipeModeCountsErrors()
    {
        await Flush();
        var input = "SET a 1\r\nINCR a\r\nLPUSH a x\r\nNOSUCH\r\nGET a\r\n";
        var (r, k) = await Both(["--pipe"], input);
        Assert.Contains("errors: 2, replies: 5", k);
        Assert.Equal(r, k);
    }

    [Fact]
    public async Task ScanAndInfoOptions()
    {
        await Flush();
        foreach (var s in new[] { pair.Redis, pair.Kv })
        {
            using var c = await s.ConnectAsync();
            for (int i = 0; i < 50; i++) await c.CommandAsync("SET", $"scan:{i}", "v");
            await c.CommandAsync("SET", "other", "v");
        }
        var (r, k) = await Both(["--scan", "--pattern", "scan:*"]);
        Assert.Equal(r.Split('\n').Order(), k.Split('\n').Order());
        Assert.Equal(51, k.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length + 1);
    }
}
