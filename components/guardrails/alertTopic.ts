import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import { alertTopicPolicy } from "./guardrailPlan";
import { autoName, NAME_RULES } from "../naming/physicalNames";

/** An alert topic and the policy that lets the account's alarms and budgets publish to it. */
export interface AlertTopic {
  readonly topic: aws.sns.Topic;
  readonly policy: aws.sns.TopicPolicy;
}

/**
 * The SNS topic alarms and budgets report to (`<name>-alerts`), with its policy. No server-side
 * encryption: alarm state changes carry no secrets, and CloudWatch alarms cannot publish to a topic
 * encrypted with the AWS-managed aws/sns key (its key policy does not let cloudwatch.amazonaws.com
 * use it and cannot be edited); a customer managed key would cost a key per stack for no gain here.
 * https://repost.aws/knowledge-center/cloudwatch-configure-alarm-sns
 */
export function alertTopic(name: string, tags: Record<string, string> | undefined, opts: pulumi.CustomResourceOptions): AlertTopic {
  const topic = new aws.sns.Topic(autoName(NAME_RULES.snsTopic, `${name}-alerts`), { tags }, opts);
  const policy = new aws.sns.TopicPolicy(`${name}-alerts`, { arn: topic.arn, policy: topic.arn.apply(alertTopicPolicy) }, opts);
  return { topic, policy };
}

/** Subscribes an email to the topic (`<name>-alerts-email`; AWS sends a confirmation mail that must be accepted). */
export function subscribeAlertEmail(name: string, topicArn: pulumi.Input<string>, email: pulumi.Input<string>, opts: pulumi.CustomResourceOptions): aws.sns.TopicSubscription {
  return new aws.sns.TopicSubscription(`${name}-alerts-email`, { topic: topicArn, protocol: "email", endpoint: email }, opts);
}
