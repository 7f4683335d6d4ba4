<?php
// symfony-send.php - messages through Symfony Mailer's SendmailTransport
// (Debian's php-symfony-mailer), as Symfony, Laravel and Drupal
// applications send them. For tests/callers-php.bats.
//
//   php symfony-send.php COMMAND SUBJECT:TO[,TO...]...
//
// One transport object for COMMAND (by default Symfony's is
// "/usr/sbin/sendmail -bs"), then one message per argument, from
// sender@example.org to the TO addresses, with that SUBJECT (no colon in
// it) and the body "body of SUBJECT" and a line ".leading dot".
// For each message it prints "sent SUBJECT" and the transport's transcript
// of it (SentMessage::getDebug(): "> " lines sent, "< " lines received),
// or "failed SUBJECT: CLASS: MESSAGE" for the exception it got. The
// transport is destroyed (QUIT, the process ends) before the exit status:
// 0 when every message was sent, 1 otherwise.
require_once '/usr/share/php/Symfony/Component/Mailer/autoload.php';

use Symfony\Component\Mailer\Exception\TransportExceptionInterface;
use Symfony\Component\Mailer\Transport\SendmailTransport;
use Symfony\Component\Mime\Email;

if ($argc < 3) {
    fwrite(STDERR, "usage: php symfony-send.php COMMAND SUBJECT:TO[,TO...]...\n");
    exit(2);
}
$transport = new SendmailTransport($argv[1]);
$failed = 0;
foreach (array_slice($argv, 2) as $arg) {
    [$subject, $to] = explode(':', $arg, 2);
    $email = (new Email())
        ->from('sender@example.org')
        ->to(...explode(',', $to))
        ->subject($subject)
        ->text("body of $subject\n.leading dot\n");
    try {
        $sent = $transport->send($email);
        echo "sent $subject\n", $sent->getDebug();
    } catch (TransportExceptionInterface $e) {
        echo "failed $subject: ", get_class($e), ': ', $e->getMessage(), "\n";
        $failed++;
    }
}
unset($transport);
exit($failed ? 1 : 0);
