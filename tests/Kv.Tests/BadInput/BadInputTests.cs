using System.Text;
using Kv.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Kv.Tests.BadInput;

/// <summary>
/// Malformed input: each payload goes to redis-server 7.0.15 and kv-server on a fresh connection; the bytes sent
/// back and whether the server closes the connection must be the same, and afterwards both servers still serve a
/// second client (PING, and a key written before is intact).
/// </summary>
public class BadInputTests(ServerPairFixture pair, ITestOutputHelper output) : IClassFixture<ServerPairFixture>
{
    private static readonly TimeSpan CloseWait = TimeSpan.FromSeconds(3);

    /// <summary>Sends <paramref name="payload"/> on a new connection and collects (reply bytes, closed).</summary>
    private static async Task<(byte[] Bytes, bool Closed)> Probe(ServerProcess s, byte[] payload, bool halfClose = false)
    {
        using var c = await s.ConnectAsync();
        await c.SendRawAsync(payload);
        if (halfClose) c.ShutdownSend();
        var (closed, received) = await c.WaitClosedAsync(CloseWait);
        return (received, closed);
    }

    private async Task Check(byte[] payload, bool expectClosed, string? expectReplyPrefix = null)
    {
        using (var w = await pair.Redis.ConnectAsync()) await w.CommandAsync("SET", "sentinel", "intact");
        using (var w = await pair.Kv.ConnectAsync()) await w.CommandAsync("SET", "sentinel", "intact");
        var r = await Probe(pair.Redis, payload);
        var k = await Probe(pair.Kv, payload);
        output.WriteLine($"redis: closed={r.Closed} \"{RespFormat.Escape(r.Bytes, 300)}\"");
        output.WriteLine($"kv:    closed={k.Closed} \"{RespFormat.Escape(k.Bytes, 300)}\"");
        Assert.Equal(RespFormat.Escape(r.Bytes), RespFormat.Escape(k.Bytes));
        Assert.Equal(r.Closed, k.Closed);
        Assert.Equal(expectClosed, k.Closed);
        if (expectReplyPrefix is not null) Assert.StartsWith(expectReplyPrefix, Encoding.Latin1.GetString(k.Bytes));
        await AssertStillServing(pair.Kv);
        await AssertStillServing(pair.Redis);
    }

    private static async Task AssertStillServing(ServerProcess s)
    {
        Assert.False(s.HasExited, $"{s.Name} exited:\n{s.LogTail()}");
        using var c = await s.ConnectAsync();
        Assert.Equal("+PONG\r\n", Encoding.ASCII.GetString(await c.CommandAsync("PING")));
        Assert.Equal("$6\r\nintact\r\n", Encoding.ASCII.GetString(await c.CommandAsync("GET", "sentinel")));
    }

    private static byte[] Garbage(int seed, int length, bool allowNul)
    {
        var garbage = new byte[length];
        new Random(seed).NextBytes(garbage);
        for (int i = 0; i < garbage.Length; i++)
            if (garbage[i] is (byte)'\n' or (byte)'\r' or (byte)'"' or (byte)'\'' || (!allowNul && garbage[i] == 0)) garbage[i] = (byte)'x';
        garbage[0] = (byte)'G'; // an inline request, not a multibulk
        return garbage;
    }

    [Fact]
    public Task GarbageBytesLine() // unknown command, the raw bytes echoed in the error; connection stays open
        => Check([.. Garbage(42, 300, allowNul: false), (byte)'\r', (byte)'\n'], expectClosed: false, "-ERR unknown command 'G");

    [Fact]
    public Task GarbageWithNulByte() // redis finds the newline with strchr: a NUL hides it, so nothing happens yet
        => Check([.. Garbage(7, 100, allowNul: false), 0, (byte)'\r', (byte)'\n'], expectClosed: false);

    [Fact]
    public Task GarbageAfterMultibulkStar() => Check("*\x01\x02\xff\r\n"u8.ToArray(), expectClosed: true, "-ERR Protocol error: invalid multibulk length");

    [Fact]
    public Task TwoGigabyteBulkHeader() => Check("*1\r\n$2147483648\r\n"u8.ToArray(), expectClosed: true, "-ERR Protocol error: invalid bulk length");

    [Fact]
    public Task BulkOverProtoMaxBulkLen() => Check("*1\r\n$536870913\r\n"u8.ToArray(), expectClosed: true, "-ERR Protocol error: invalid bulk length");

    [Fact]
    public Task NegativeBulkLength() => Check("*2\r\n$3\r\nGET\r\n$-2\r\n"u8.ToArray(), expectClosed: true, "-ERR Protocol error: invalid bulk length");

    [Fact]
    public Task HugeMultibulkCount() => Check("*2147483648\r\n"u8.ToArray(), expectClosed: true, "-ERR Protocol error: invalid multibulk length");

    [Fact]
    public Task NotABulkInsideMultibulk() => Check("*1\r\n:5\r\n"u8.ToArray(), expectClosed: true, "-ERR Protocol error: expected '$', got ':'");

    [Fact]
    public Task InlineTooBig() => Check(Enumerable.Repeat((byte)'a', 70 * 1024).ToArray(), expectClosed: true, "-ERR Protocol error: too big inline request");

    [Fact]
    public Task MultibulkCountLineTooBig() => Check([(byte)'*', .. Enumerable.Repeat((byte)'1', 70 * 1024)], expectClosed: true, "-ERR Protocol error: too big mbulk count string");

    [Fact]
    public Task BulkLengthLineTooBig() => Check([.. "*1\r\n$"u8.ToArray(), .. Enumerable.Repeat((byte)'1', 70 * 1024)], expectClosed: true, "-ERR Protocol error: too big bulk count string");

    [Fact]
    public Task UnbalancedQuotes() => Check("SET k \"abc\r\n"u8.ToArray(), expectClosed: true, "-ERR Protocol error: unbalanced quotes in request");

    [Fact]
    public Task UnbalancedSingleQuotes() => Check("SET k 'abc\r\n"u8.ToArray(), expectClosed: true, "-ERR Protocol error: unbalanced quotes in request");

    [Fact]
    public Task ReplyBeforeProtocolErrorIsKept()
        => Check("PING\r\n*1\r\n$4\r\nPING\r\n*x\r\n"u8.ToArray(), expectClosed: true, "+PONG\r\n+PONG\r\n-ERR Protocol error");

    [Fact]
    public async Task HalfCommandThenDisconnect()
    {
        foreach (var s in new[] { pair.Redis, pair.Kv })
        {
            using (var w = await s.ConnectAsync()) await w.CommandAsync("SET", "sentinel", "intact");
            using (var c = await s.ConnectAsync())
            {
                await c.SendRawAsync("*3\r\n$3\r\nSET\r\n$9\r\nhalf-done\r\n$10\r\nabc"u8.ToArray());
                await Task.Delay(50);
            } // closed mid-command
            using (var c = await s.ConnectAsync())
            {
                await c.SendRawAsync("*2\r\n$3\r\nGET\r\n$9\r\nhalf"u8.ToArray());
                c.ShutdownSend(); // EOF in the middle of a bulk
                var (closed, got) = await c.WaitClosedAsync(CloseWait);
                Assert.True(closed);
                Assert.Empty(got);
            }
            await AssertStillServing(s);
            using var check = await s.ConnectAsync();
            Assert.Equal("$-1\r\n", Encoding.ASCII.GetString(await check.CommandAsync("GET", "half-done")));
        }
    }

    [Fact]
    public async Task ManyBadClientsWhileGoodClientWorks()
    {
        // A steady client keeps getting answers while other connections send garbage and get dropped.
        using var good = await pair.Kv.ConnectAsync();
        var bad = Enumerable.Range(0, 20).Select(async i =>
        {
            using var c = await pair.Kv.ConnectAsync();
            await c.SendRawAsync(Encoding.ASCII.GetBytes(i % 2 == 0 ? "*1\r\n$-7\r\n" : "GET \"x\r\n"));
            return (await c.WaitClosedAsync(CloseWait)).Closed;
        }).ToList();
        for (int i = 0; i < 50; i++)
            Assert.Equal($":{i + 1}\r\n", Encoding.ASCII.GetString(await good.CommandAsync("INCR", "steady")));
        Assert.All(await Task.WhenAll(bad), Assert.True);
        await good.CommandAsync("DEL", "steady");
    }
}
